/** `voxseg info`: every backend, whether it runs here, what it runs on, and why not. */
import type { Command } from 'commander';
import { probeCuda } from '../backends/cuda/index.js';
import { probeBackends } from '../engine/registry.js';

/** Add the `info` command to the program. */
export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('show the backends found on this machine and why others are unavailable')
    .option('--json', 'print as JSON')
    .action(async (flags: { json?: boolean }) => {
      const probes = await probeBackends();
      const chosen = probes.find((probe) => probe.available)?.name ?? 'none';
      const rows = probes.map((probe) => ({
        name: probe.name,
        available: Boolean(probe.backend),
        auto: probe.name === chosen,
        reason: probe.reason,
        info: probe.backend?.info() ?? unavailableDetails(probe.name),
      }));
      if (flags.json) {
        console.log(JSON.stringify({ auto: chosen, backends: rows }, null, 2));
        return;
      }
      for (const row of rows) {
        console.log(`${row.name}: ${describeState(row)}`);
        if (row.info) console.log(`  ${row.info.description}`);
        for (const [key, value] of Object.entries(row.info?.details ?? {})) {
          console.log(`  ${key}: ${value}`);
        }
      }
      console.log(`auto would choose: ${chosen}`);
    });
}

/** What can be said of a backend that did not come up: for cuda, the addon and the driver. */
function unavailableDetails(name: string) {
  if (name !== 'cuda') return undefined;
  const status = probeCuda();
  const details: Record<string, string> = {};
  if (status.addon) details.addon = status.addon;
  if (status.driver) details.driver = status.driver;
  if (status.runtime) details.runtime = status.runtime;
  return { name, description: 'CUDA through the native addon', details };
}

function describeState(row: { available: boolean; auto: boolean; reason: string }): string {
  if (row.auto) return 'available, chosen by auto';
  if (!row.available) return `unavailable: ${row.reason}`;
  return row.reason ? `available, not chosen by auto: ${row.reason}` : 'available';
}
