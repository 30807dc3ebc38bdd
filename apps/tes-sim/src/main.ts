import { listeningLine, startSimulator } from './sim-bootstrap';
import { loadSimConfig, SIM_USAGE, SimConfigError } from './sim-config';

async function main(): Promise<void> {
  let cli;
  try {
    cli = loadSimConfig();
  } catch (error) {
    if (!(error instanceof SimConfigError)) throw error;
    process.stderr.write(`tes-sim: ${error.message}\n(tes-sim --help lists the flags)\n`);
    process.exit(2);
  }
  if (cli.help) {
    process.stdout.write(SIM_USAGE);
    return;
  }
  const { execute, host, name } = cli.config;
  if (execute && !/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) {
    process.stderr.write(
      `tes-sim ${name}: warning: --execute runs the commands of every task submitted as this ` +
        `user, and --host ${host} lets other machines submit them\n`,
    );
  }
  const handle = await startSimulator(cli.config, { shutdownHooks: true });
  if (cli.config.refuseMs > 0) {
    process.stderr.write(
      `tes-sim ${cli.config.name}: port ${handle.port} bound, refusing connections for ${cli.config.refuseMs} ms\n`,
    );
  }
  await handle.ready;
  process.stdout.write(`${listeningLine(handle)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`tes-sim: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
