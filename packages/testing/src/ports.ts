/** A TCP port that was free a moment ago on 127.0.0.1 (the same probe the embedded platform uses). */
export { freeLoopbackPort as freePort } from '@rampart/service-kit/process';
