/** `voxseg info`: every backend, whether it runs here, what it runs on, and why not. */
import type { Command } from 'commander';
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
        info: probe.backend?.info(),
      }));
      if (flags.json) {
        console.log(JSON.stringify({ auto: chosen, backends: rows }, null, 2));
        return;
      }
      for (const row of rows) {
        const state = row.auto ? 'available, chosen by auto' : row.available ? 'available' : 'unavailable';
        console.log(`${row.name}: ${state}${row.reason ? ` (${row.reason})` : ''}`);
        if (row.info) console.log(`  ${row.info.description}`);
        for (const [key, value] of Object.entries(row.info?.details ?? {})) {
          console.log(`  ${key}: ${value}`);
        }
      }
      console.log(`auto would choose: ${chosen}`);
    });
}
