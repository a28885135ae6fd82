// Daemon entry point: reads options and config file, sets up logging, detaches
// unless --foreground, starts the daemon and runs until SIGTERM or SIGINT.
// Exit codes: 0 on success (or --help/--version), 1 on any start-up error.

import { buildConfig, Config, ConfigError, packageVersion } from './config';
import { parseCommandLine, ParsedCommandLine, renderHelp } from './options';
import {
  detach, installSignalHandlers, isDetachedChild, notifyReady, removePidFile, writePidFile,
} from './process';
import {
  configureLogging, discardLogs, flushLogs, getLogger, getLogLevel, setLogLevel,
} from '../log';
import { startDaemon } from '../daemon';

const log = getLogger('core');

/** Logs a fatal start-up error; also to stderr when logging goes elsewhere. */
function fatal(message: string, alsoStderr: boolean): void {
  log.crit(`Fatal error: ${message}`);
  if (alsoStderr) process.stderr.write(`Fatal error: ${message}\n`);
}

async function exit(code: number): Promise<never> {
  await flushLogs();
  process.exit(code);
}

/**
 * Runs the daemon with the given arguments (without node and script). Never
 * rejects: every failure ends the process with exit code 1.
 */
export async function main(argv: string[]): Promise<void> {
  let cli: ParsedCommandLine;
  let config: Config;
  try {
    cli = parseCommandLine(argv);
    if (cli.values.get('help') === true) {
      process.stdout.write(renderHelp());
      return exit(0);
    }
    if (cli.values.get('version') === true) {
      process.stderr.write(`Version: ${packageVersion()}\n`);
      return exit(0);
    }
    if (cli.values.get('codecs') === true) {
      // What the linked codec libraries provide, asked of the native layer.
      const { formatCodecList } = await import('../codec/table');
      const { backendAvailable } = await import('../codec/native');
      process.stdout.write(formatCodecList(backendAvailable));
      return exit(0);
    }
    config = buildConfig(cli);
  } catch (e) {
    fatal(e instanceof ConfigError ? e.message : String((e as Error).stack ?? e), false);
    return exit(1);
  }

  if (!config.foreground && !isDetachedChild()) {
    // The detached child repeats everything below and reports back.
    return exit(await detach(argv));
  }
  await run(config);
}

async function run(config: Config): Promise<void> {
  setLogLevel(config.logLevel);
  const output = configureLogging({
    stderr: config.logStderr,
    timestamps: !config.noLogTimestamps,
    splitLines: config.splitLogs,
    maxLineLength: config.maxLogLineLength,
    facility: config.logFacility,
    name: config.logName,
  });
  if (output.problem) log.warn(`Logging to stderr instead of syslog: ${output.problem}`);
  const toStderr = output.target === 'stderr';
  for (const w of config.warnings) log.warn(w);
  for (const name of config.unsupportedOptions) log.warn(`not supported yet: --${name}`);

  let daemon: { stop(): Promise<void> } | null = null;
  let stopping: Promise<void> | null = null;
  let pidfileWritten = false;

  const shutdown = (signal: NodeJS.Signals | null): void => {
    if (stopping) {
      if (signal) {
        log.warn(`Got ${signal} again while shutting down: exiting now`);
        void exit(1);
      }
      return;
    }
    stopping = (async () => {
      log.info(`Version ${config.version} shutting down`);
      let code = 0;
      try {
        if (daemon) await daemon.stop();
      } catch (e) {
        log.error(`Error while shutting down: ${(e as Error).message}`);
        code = 1;
      }
      if (pidfileWritten && config.pidfile) removePidFile(config.pidfile);
      await exit(code);
    })();
  };
  installSignalHandlers({
    shutdown: (signal) => shutdown(signal),
    logLevel: (delta) => {
      setLogLevel(getLogLevel() + delta);
      // Logged at the new level itself, so the change is always visible.
      log.log(getLogLevel(), `${delta < 0 ? 'Decreased' : 'Increased'} log level to ${getLogLevel()}`);
    },
  });

  try {
    daemon = await startDaemon(config);
  } catch (e) {
    fatal((e as Error).message ?? String(e), !toStderr);
    return exit(1);
  }
  if (stopping) return; // a signal arrived during start-up; shutdown() stops the daemon

  if (config.pidfile) {
    try {
      writePidFile(config.pidfile);
      pidfileWritten = true;
    } catch (e) {
      fatal(`Failed to create PID file ${config.pidfile} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}), aborting startup`, !toStderr);
      await daemon.stop().catch(() => undefined);
      return exit(1);
    }
  }
  if (isDetachedChild()) {
    // The parent stops relaying stderr now, as the reference points it at /dev/null.
    if (toStderr) discardLogs();
    notifyReady();
  }
}
