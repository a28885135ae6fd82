// Assembles a running daemon from a validated configuration: the native media
// engine, the port allocator, the call registry and the ng listeners.

import { randomBytes } from 'crypto';
import type { Config } from './cli/config';
import { getLogger } from './log';
import { configurePlayer, MediaEngine } from './media/engine';
import { PortAllocator } from './media/ports';
import { NgServer } from './control/ng-server';
import { Commands } from './control/commands';
import { CallRegistry } from './call/registry';
import { MediaWiring } from './call/wiring';
import { systemInterfacesOf } from './media/interfaces';
import { DEFAULT_GRAPH_OPTIONS, type GraphOptions } from './codec/graph';
import { ControlStats } from './stats/statistics';
import { LoadMonitor } from './stats/load';
import { XmlrpcCallbacks } from './call/xmlrpc-callback';
import { MediaControlCommands } from './control/media-control';
import { Recordings } from './recording/recordings';
import { DtmfReporter } from './dtmf/reporter';
import { PortFirewall } from '../iptables-extension/firewall';

const log = getLogger('daemon');

export interface Daemon {
  stop(): Promise<void>;
}

export async function startDaemon(config: Config): Promise<Daemon> {
  // The threads that read, fetch and encode media for `play media`; 0: no playback.
  configurePlayer({ threads: config.mediaNumThreads });
  if (config.mediaNumThreads === 0) log.info('Media playback is disabled (--media-num-threads=0)');
  let wiring: MediaWiring | null = null;
  const engine = new MediaEngine({
    threads: config.numThreads,
    mos: config.mos,
    softwareId: config.softwareId,
    onEvents: (events) => wiring?.onEvents(events),
  });
  const ports = new PortAllocator(engine, config.portMin, config.portMax);
  let firewall: PortFirewall | null = null;
  if (config.iptablesChain) {
    try {
      firewall = PortFirewall.start(config.iptablesChain);
    } catch (e) {
      engine.close();
      throw new Error(`--iptables-chain: ${(e as Error).message}`);
    }
    ports.listener = firewall;
  }
  wiring = new MediaWiring(engine, ports, config.endpointLearning, graphOptions(config));
  wiring.recordEgress = config.recordEgress;
  wiring.logSrtpKeys = config.logSrtpKeys;
  let server: NgServer | null = null;
  const dtmf = new DtmfReporter({
    dest: config.dtmfLogDest,
    facility: config.logFacilityDtmf,
    notify: config.dtmfLogNgTcp && config.listenTcpNg.length > 0 ? (dict) => server?.notify(dict) ?? 0 : null,
    noLogInjects: config.dtmfNoLogInjects,
  });
  if (dtmf.enabled) {
    wiring.onDtmf = (ps, ev) => dtmf.report({
      from: ps.media.monologue,
      sourceIp: ev.source?.address ?? ps.endpoint?.address ?? '',
      event: ev.event,
      durationMs: ev.durationMs,
      volume: ev.volume,
    });
  }
  if (config.table >= 0) {
    const names = systemInterfacesOf(config.interfaces);
    const why = names.length ? engine.kernelOpen(config.table, names) : 'no network interface carries the media addresses';
    if (why === null) {
      wiring.kernel = { dtmfInUserSpace: dtmf.enabled };
      log.info(`In-kernel forwarding on table ${config.table}, interfaces ${names.join(', ')}`);
    } else {
      // The reference's words, which monitoring may look for.
      log.error(`FAILED TO CREATE KERNEL TABLE ${config.table} (${why}), KERNEL FORWARDING DISABLED`);
      if (config.noFallback) {
        engine.close();
        throw new Error('Userspace fallback disallowed (--no-fallback) - exiting');
      }
    }
  }
  wiring.audioPlayer = { mode: config.audioPlayer, bufferMs: config.audioBufferLength, delayMs: config.audioBufferDelay };
  if (config.recordingDir !== null && config.recordingMethod !== 'pcap') {
    log.warn(`Recording method '${config.recordingMethod}': the kernel /proc interface is not available, recording to pcap files only`);
  }
  const recordings = new Recordings(engine, wiring, { dir: config.recordingDir, format: config.recordingFormat });
  try {
    recordings.init();
  } catch (e) {
    engine.close();
    throw new Error(`cannot create the recording directories: ${(e as Error).message}`);
  }
  const load = new LoadMonitor(
    { maxLoad: config.maxLoad, maxCpu: config.maxCpu, maxBandwidth: config.maxBandwidth },
    { receivedBytes: () => engine.totals().bytes },
  );
  const registry = new CallRegistry(wiring, {
    timeout: config.timeout,
    silentTimeout: config.silentTimeout,
    finalTimeout: config.finalTimeout,
    offerTimeout: config.offerTimeout,
    deleteDelay: config.deleteDelay,
  }, config.maxSessions, {
    load,
    b2b: config.b2bUrl ? { url: config.b2bUrl, format: config.xmlrpcFormat, callbacks: new XmlrpcCallbacks(`rtpengine-ts/${config.version}`) } : undefined,
    onDestroy: (call) => void recordings.finish(call, true),
  });
  const control = new ControlStats();
  const commands = new Commands({
    registry,
    control,
    deleteDelay: config.deleteDelay,
    playerCache: config.playerCache,
    mysql: config.mysqlHost !== null && config.mysqlQuery !== null
      ? { host: config.mysqlHost, port: config.mysqlPort, user: config.mysqlUser, pass: config.mysqlPass, query: config.mysqlQuery }
      : null,
    onInjectedDtmf: dtmf.enabled ? (k) => dtmf.report(k) : undefined,
    mediaControl: new MediaControlCommands({ registry, wiring, recordings }),
    recordings,
    portUsage: () => ({ min: config.portMin, max: config.portMax, used: ports.inUse() * 2, last: ports.last() }),
    signal: {
      interfaces: config.interfaces,
      sipSource: config.sipSource,
      instanceId: randomBytes(6).toString('hex'),
      wiring,
    },
  });
  server = new NgServer({
    udp: config.listenNg,
    tcp: config.listenTcpNg,
    handler: commands.handle,
  });
  try {
    await server.start();
  } catch (e) {
    engine.close();
    throw e;
  }
  registry.start();
  load.start();
  log.notice(`Startup complete, version ${config.version}`);
  let stopped = false;
  return {
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await server?.close();
      dtmf.close();
      load.stop();
      registry.destroyAll();
      // Every call is gone, so no rule is wanted any more: the chain is emptied
      // before the slower steps below, so that a supervisor's kill during them
      // does not leave rules behind.
      await firewall?.stop();
      // Calls recorded until now leave complete metadata files.
      await recordings.flush();
      engine.close();
    },
  };
}

/**
 * Transcoding settings from the options: --silence-detect is a level in percent of
 * full scale (as dBov for the engine), --dtx-delay in ms (0: no DTX buffer and the
 * engine's default wait before comfort noise), --max-dtx in seconds (0 or less: no
 * limit); the DTX buffer limits, the CN payloads and --amr-dtx as given;
 * --dtmf-no-suppress.
 */
function graphOptions(config: Config): GraphOptions {
  const pct = config.silenceDetect;
  return {
    silenceDetectDbov: pct > 0 ? Math.max(1, Math.round(-20 * Math.log10(pct / 100))) : 0,
    dtxDelayMs: config.dtxDelay > 0 ? Math.min(config.dtxDelay, 60000) : DEFAULT_GRAPH_OPTIONS.dtxDelayMs,
    maxDtxMs: config.maxDtx > 0 ? Math.min(config.maxDtx * 1000, 3600000) : 3600000,
    suppressDtmf: !config.dtmfNoSuppress,
    dtxBuffered: config.dtxDelay > 0,
    dtxBufferPackets: Math.min(Math.max(config.dtxBuffer, 0), 10000),
    dtxLagMs: Math.min(Math.max(config.dtxLag, 0), 60000),
    dtxShiftMs: Math.min(Math.max(config.dtxShift, 0), 1000),
    dtxCnParams: config.dtxCnParams,
    cnPayload: config.cnPayload.length > 0 ? config.cnPayload : DEFAULT_GRAPH_OPTIONS.cnPayload,
    amrDtxCn: config.amrDtx === 'CN',
  };
}
