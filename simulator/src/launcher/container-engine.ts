/**
 * Finding and reaching a Docker engine, as the docker CLI does: `DOCKER_HOST` (`unix:///path` or
 * `tcp://host:port`, plain HTTP), else the default socket /var/run/docker.sock. The engine counts as
 * reachable when it answers `GET /_ping`.
 */
import Docker from 'dockerode';
import { simulatorError } from '../errors.js';
import { scopeFilter, type ContainerScope } from './container-config.js';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export type DockerAddress =
  | { readonly kind: 'unix'; readonly socketPath: string; readonly text: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly text: string };

/** Where the engine should be: DOCKER_HOST from `env`, else the default socket. Throws FERRY_E_SIM_DOCKER_UNAVAILABLE for a form it cannot use. */
export function locateDockerEngine(env: Readonly<Record<string, string | undefined>>): DockerAddress {
  const given = env.DOCKER_HOST?.trim();
  if (!given) return { kind: 'unix', socketPath: DEFAULT_DOCKER_SOCKET, text: `unix://${DEFAULT_DOCKER_SOCKET}` };
  if (given.startsWith('unix://')) {
    const socketPath = given.slice('unix://'.length);
    if (socketPath.startsWith('/')) return { kind: 'unix', socketPath, text: given };
  }
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(given);
  if (tcp?.[1] && tcp[2] && env.DOCKER_TLS_VERIFY !== '1') {
    return { kind: 'tcp', host: tcp[1].replace(/^\[|\]$/g, ''), port: Number(tcp[2]), text: given };
  }
  throw simulatorError('FERRY_E_SIM_DOCKER_UNAVAILABLE', `DOCKER_HOST=${given} is not a form the simulator uses (unix:///path or tcp://host:port without TLS)`, {
    details: { dockerHost: given },
  });
}

/** A client for the engine at `address`, once it has answered a ping within `timeoutMs`; throws FERRY_E_SIM_DOCKER_UNAVAILABLE. */
export async function connectDockerEngine(address: DockerAddress, timeoutMs = 3000): Promise<Docker> {
  const docker = address.kind === 'unix'
    ? new Docker({ socketPath: address.socketPath })
    : new Docker({ protocol: 'http', host: address.host, port: address.port });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
    return docker;
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    throw simulatorError('FERRY_E_SIM_DOCKER_UNAVAILABLE', `No Docker engine answers at ${address.text} (${why})`, { cause, details: { dockerHost: address.text } });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Removes every container a previous run of the same simulation left behind (one killed with SIGKILL
 * cannot remove its own). Resolves with the names removed.
 */
export async function removeLeftoverContainers(docker: Docker, scope: ContainerScope): Promise<string[]> {
  const found = await docker.listContainers({ all: true, filters: scopeFilter(scope) });
  const removed: string[] = [];
  for (const info of found) {
    try {
      await docker.getContainer(info.Id).remove({ force: true });
      removed.push((info.Names[0] ?? info.Id).replace(/^\//, ''));
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
  }
  return removed;
}
