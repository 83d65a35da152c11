// `ringfence doctor`: what works on this machine — drivers, namespaces, cgroups, seccomp.
import type { Command } from 'commander';
import { createDriver } from '../sandbox/create-driver.js';
import type { DriverName, DriverProbe } from '../sandbox/driver.js';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('report which sandbox drivers and features work on this machine')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const reports: DriverProbe[] = [];
      for (const name of ['bubblewrap', 'docker', 'gvisor'] as DriverName[]) {
        try {
          const driver = await createDriver(name);
          reports.push(await driver.probe());
          await driver.close();
        } catch (err) {
          reports.push({
            driver: name,
            usable: false,
            details: {},
            problems: [(err as Error).message],
          });
        }
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
      } else {
        for (const r of reports) {
          process.stdout.write(`${r.usable ? 'ok ' : 'NO '} ${r.driver}\n`);
          for (const [k, v] of Object.entries(r.details))
            process.stdout.write(`      ${k}: ${v}\n`);
          for (const p of r.problems) process.stdout.write(`      problem: ${p}\n`);
        }
      }
      process.exitCode = reports.some((r) => r.usable) ? 0 : 1;
    });
}
