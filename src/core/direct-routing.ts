/**
 * DirectRouting (flannel's `Backend.DirectRouting`): which peers this host
 * reaches without encapsulation. A peer whose public IP the host's own
 * routing table reaches with no gateway, through the external interface
 * (the same L2 segment), gets a plain route `<peer subnet> via <public IP>
 * dev <external interface>` instead of VXLAN entries (kernel-state.ts).
 *
 * flannel asks the kernel (`RouteGet(publicIP)`) and checks that the answer
 * has no gateway. weft answers the same question from one read of the main
 * table (longest prefix match), so a pass over 5 000 peers costs one `ip`
 * read, and the decision is a pure function that tests can pin down. One
 * difference: policy routing rules (`ip rule`) are not consulted; a host
 * that steers its underlay through another table than main keeps VXLAN for
 * every peer, the safe side (docs/configuration.md).
 *
 * weft is also stricter in one way: the route must be on the external
 * interface (flannel only looks at the gateway), since the direct route is
 * installed on that interface and a peer reached through another one would
 * get a route the kernel cannot use.
 */
import { type Cidr, type Ipv4, containsIp, parseCidr } from './cidr.js';
import { type Cidr6, type Ipv6, containsIp6, parseCidr6, parseIpv6 } from './cidr6.js';

/** One route of the main table, as DirectRouting needs it. */
export interface UnderlayRoute {
  /** `A.B.C.D/N` or an IPv6 prefix; `default` is 0.0.0.0/0 (::/0). */
  readonly dst: string;
  /** The route sends through a gateway (`via`), or through several (multipath). */
  readonly gateway: boolean;
  readonly device: string | undefined;
  /** `unicast`, `local`, `blackhole`, `unreachable`, ... */
  readonly type: string;
}

/** The path decision for every peer of one address family, from one read of the underlay's routes. */
export interface DirectPaths {
  /** The external interface direct routes go on. */
  readonly device: string;
  /** True when `publicIp` is on the external interface's segment (no gateway on the way). */
  direct(publicIp: string): boolean;
}

interface Prefix {
  readonly contains: (ip: string) => boolean;
  readonly length: number;
  readonly route: UnderlayRoute;
}

/**
 * The decision for `routes` (the main table, one family). Routes of other
 * types than unicast (local, blackhole, ...) take part in the match, so an
 * address covered by a more specific blackhole is not direct.
 */
export function directPaths(device: string, routes: readonly UnderlayRoute[], family: 4 | 6): DirectPaths {
  const prefixes: Prefix[] = [];
  for (const route of routes) {
    const prefix = family === 4 ? prefix4(route) : prefix6(route);
    if (prefix) prefixes.push(prefix);
  }
  prefixes.sort((a, b) => b.length - a.length);
  const answers = new Map<string, boolean>();
  return {
    device,
    direct(publicIp: string): boolean {
      let answer = answers.get(publicIp);
      if (answer === undefined) {
        const best = prefixes.find((p) => p.contains(publicIp))?.route;
        answer = best !== undefined && !best.gateway && best.type === 'unicast' && best.device === device;
        answers.set(publicIp, answer);
      }
      return answer;
    },
  };
}

/** No peer is direct (DirectRouting off, or no underlay read yet). */
export const NO_DIRECT_PATHS: DirectPaths = Object.freeze({ device: '', direct: () => false });

function prefix4(route: UnderlayRoute): Prefix | undefined {
  const parsed = parseCidr(route.dst === 'default' ? '0.0.0.0/0' : route.dst.includes('/') ? route.dst : `${route.dst}/32`);
  if (!parsed.ok) return undefined;
  const cidr: Cidr = parsed.cidr;
  return { contains: (ip) => containsIp(cidr, ip as Ipv4), length: parsed.prefixLength, route };
}

function prefix6(route: UnderlayRoute): Prefix | undefined {
  const parsed = parseCidr6(route.dst === 'default' ? '::/0' : route.dst.includes('/') ? route.dst : `${route.dst}/128`);
  if (!parsed.ok) return undefined;
  const cidr: Cidr6 = parsed.cidr;
  return {
    contains: (ip) => {
      const v6 = parseIpv6(ip);
      return v6 !== undefined && containsIp6(cidr, v6 as Ipv6);
    },
    length: parsed.prefixLength,
    route,
  };
}

/**
 * The decision weftd makes on a host, for the tools that check its work
 * (`weftctl status`, `doctor`): undefined when DirectRouting is off or the
 * external interface or the underlay's routes are unknown (every peer VXLAN).
 */
export function configuredPaths(directRouting: boolean, device: string | undefined, routes: readonly UnderlayRoute[] | undefined,
  family: 4 | 6): DirectPaths | undefined {
  return directRouting && device !== undefined && routes !== undefined ? directPaths(device, routes, family) : undefined;
}
