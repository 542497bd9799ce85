// The part of a Pool the adaptation controller talks to (adaptive-run.ts), for its unit tests: settings it may read
// and reconfigure, capabilities, connect times and the byte bound. Every reconfigure() is kept for the test to read.
import type { PoolSettings } from '../../src/transport/pool.js';

export class FakePool {
  settings: PoolSettings;
  readonly reconfigured: Array<Partial<PoolSettings>> = [];
  capabilities = { literalPlus: true, literalMinus: false, multiappend: true };
  connectTimes = [0.05, 0.05];
  connectionCap: number | undefined = undefined;
  options = { maxBytesInFlight: 16 * 1024 * 1024 };

  constructor(batch = 50) {
    this.settings = { pipelineDepth: 2, connections: 2, connectionsPerFolder: undefined, batch, literalPlusMaxBytes: 100 * 1024 };
  }

  reconfigure(change: Partial<PoolSettings>): PoolSettings {
    this.reconfigured.push(change);
    this.settings = { ...this.settings, ...change };
    return this.settings;
  }
}
