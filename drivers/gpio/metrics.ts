import { Counter, type Registry } from 'prom-client';

/**
 * Metrics shared by the reader drivers (wiegand, gpio, hid, serial-reader).
 * Several devices register on one gateway registry, so the counters are
 * created once per registry and reused.
 */
export interface ReaderMetrics {
  /** Frames/reports by outcome: card, pin, key, barcode, or a rejection reason. */
  frames: Counter<'device' | 'driver' | 'result'>;
  /** Rejected input by stable error code (GH_WIEGAND_*, GH_HID_*, GH_SERIAL_READER_FRAME, ...). */
  rejects: Counter<'device' | 'code'>;
  /** Door / turnstile I/O: relay pulses, passages, alarms. */
  io: Counter<'device' | 'event'>;
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function readerMetrics(registry: Registry): ReaderMetrics {
  return {
    frames: counter(registry, 'gatehouse_reader_frames_total', 'Reader frames/reports by device, driver and outcome.', ['device', 'driver', 'result']),
    rejects: counter(registry, 'gatehouse_reader_rejects_total', 'Rejected reader input by device and stable error code (docs/errors.md).', ['device', 'code']),
    io: counter(registry, 'gatehouse_gpio_events_total', 'Door/turnstile I/O events by device: relay_pulse, rex, passage_used, passage_unused, door_forced, door_held, tamper.', ['device', 'event']),
  };
}
