// A notifier that accepts everything and sends nothing (a channel switched off, dry runs, tests).
import type { Notifier, SendResult } from '../../ports/notifier.ts';

export class NoopNotifier implements Notifier {
  readonly type = 'noop';
  sent = 0;

  async send(): Promise<SendResult> {
    this.sent++;
    return { ok: true, status: 204 };
  }
}
