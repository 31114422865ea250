import { DenialReason, type DenialReasonValue } from '@rampart/contracts';
import type { Logger } from '@rampart/service-kit';
import type { MqttMetrics, ShedReason } from './metrics.js';
import type { DoorRefusal } from './socket-front.js';

/** TLS refusals logged one by one in each summary interval; the rest are counted and summarised. */
const TLS_REFUSALS_LOGGED_PER_INTERVAL = 20;

/** How full the socket front is, for the door-refusal summary. */
export interface DoorLoad {
  readonly open: number | undefined;
  readonly handshaking: number | undefined;
}

/**
 * Refusals that come in floods — TLS handshakes, sockets at the door, shed
 * messages — are counted at once and logged as a summary per interval, so
 * a connect flood is not a log flood.
 */
export class RefusalSummary {
  private shedSinceLog = 0;
  private sessionLimitSinceLog = 0;
  private readonly refusedAtDoorSinceLog: Record<DoorRefusal, number> = { connection_limit: 0, handshake_limit: 0 };
  /** TLS refusals past the first few of an interval, by reason. */
  private tlsRefusedUnlogged: Record<string, number> = {};
  private tlsRefusalsLogged = 0;

  constructor(
    private readonly metrics: MqttMetrics,
    private readonly logger: Logger,
    private readonly doorLoad: () => DoorLoad,
  ) {}

  tlsRefused(remote: string | undefined, reason: DenialReasonValue, detail: string): void {
    this.metrics.connectionRefused(reason);
    if (this.tlsRefusalsLogged < TLS_REFUSALS_LOGGED_PER_INTERVAL) {
      this.tlsRefusalsLogged++;
      this.logger.warn({ remote, reason, detail }, 'TLS handshake refused');
    } else {
      this.tlsRefusedUnlogged[reason] = (this.tlsRefusedUnlogged[reason] ?? 0) + 1;
    }
  }

  refusedAtDoor(reason: DoorRefusal): void {
    this.metrics.connectionRefused(DenialReason.overloaded);
    this.refusedAtDoorSinceLog[reason]++;
  }

  /** A CONNECT refused with CONNACK 0x03: the gateway holds as many sessions as it may. */
  sessionLimitReached(): void {
    this.metrics.connectionRefused(DenialReason.overloaded);
    this.sessionLimitSinceLog++;
  }

  shed(reason: ShedReason): void {
    this.metrics.shedMessage(reason);
    this.shedSinceLog++;
  }

  /** Logs what was counted since the last call. */
  flush(): void {
    if (Object.keys(this.tlsRefusedUnlogged).length > 0) {
      this.logger.warn({ byReason: this.tlsRefusedUnlogged }, 'more TLS handshakes refused (not logged one by one)');
      this.tlsRefusedUnlogged = {};
    }
    this.tlsRefusalsLogged = 0;
    const door = this.refusedAtDoorSinceLog;
    if (door.connection_limit + door.handshake_limit > 0) {
      const load = this.doorLoad();
      this.logger.warn(
        { reason: DenialReason.overloaded, ...door, open: load.open, handshaking: load.handshaking },
        'connections refused at the door: socket limits reached',
      );
      door.connection_limit = 0;
      door.handshake_limit = 0;
    }
    if (this.sessionLimitSinceLog > 0) {
      this.logger.warn(
        { reason: DenialReason.overloaded, refused: this.sessionLimitSinceLog },
        'connections refused with CONNACK 0x03: session limit reached',
      );
      this.sessionLimitSinceLog = 0;
    }
    if (this.shedSinceLog === 0) return;
    this.logger.warn({ shed: this.shedSinceLog, totals: this.metrics.totals.shed }, 'device messages shed to protect the gateway');
    this.shedSinceLog = 0;
  }
}
