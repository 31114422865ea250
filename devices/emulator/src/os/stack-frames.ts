export interface StackFrame {
  readonly function: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** Frames kept in a crash report: enough to bucket by, small enough to send. */
export const MAX_FRAMES = 16;

const FRAME = /^\s*at (?:(.+?) \()?(.+?):(\d+):(\d+)\)?$/;

/** V8 stack text → frames, only those in the app's own code (the runtime's frames say nothing about the app). */
export function appFrames(stack: string | undefined, appFile: string): StackFrame[] {
  const frames: StackFrame[] = [];
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const match = FRAME.exec(line);
    if (match === null || match[2] !== appFile) continue;
    frames.push({ function: match[1] ?? '<anonymous>', file: match[2], line: Number(match[3]), column: Number(match[4]) });
    if (frames.length === MAX_FRAMES) break;
  }
  return frames;
}
