/**
 * Results in a chain (CNI spec 1.1.0 "Chained Plugins" and "Add": a plugin
 * that gets a prevResult must return it, passed through or modified; 0.4.0's
 * "Section 3" says the same). weft adds the delegate's interfaces, addresses
 * and routes to the previous plugins' and keeps theirs first. The result
 * format of every version weft accepts (0.3.0 to 1.1.0) has the same shape:
 * `interfaces`, `ips` whose `interface` is an index into `interfaces`,
 * `routes` and `dns`; the delegate speaks the netconf's version (or 1.0.0 for
 * a 1.1.0 netconf, the same format), so the lists can be joined as they are.
 * Pure: no I/O.
 */
import { CniCode, CniError } from './errors.js';
import { isJsonObject, type Json, type JsonObject } from './netconf.js';

function list(value: Json | undefined): readonly Json[] {
  return Array.isArray(value) ? (value as readonly Json[]) : [];
}

export function parseResult(text: string, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!isJsonObject(value)) throw new CniError(CniCode.Internal, `${what} is not a JSON object: ${text.slice(0, 200)}`);
  return value;
}

/** prevResult followed by the delegate's result, labelled `cniVersion`. */
export function mergeResults(prev: JsonObject, own: JsonObject, cniVersion: string): JsonObject {
  const prevInterfaces = list(prev['interfaces']);
  const offset = prevInterfaces.length;
  const ownIps = list(own['ips']).map((ip) => (isJsonObject(ip) && typeof ip['interface'] === 'number' ? { ...ip, interface: ip['interface'] + offset } : ip));
  const merged: Record<string, Json> = { ...prev, cniVersion };
  const interfaces = [...prevInterfaces, ...list(own['interfaces'])];
  const ips = [...list(prev['ips']), ...ownIps];
  const routes = [...list(prev['routes']), ...list(own['routes'])];
  if (interfaces.length > 0) merged['interfaces'] = interfaces;
  if (ips.length > 0) merged['ips'] = ips;
  if (routes.length > 0) merged['routes'] = routes;
  const dns = mergeDns(prev['dns'], own['dns']);
  if (dns !== undefined) merged['dns'] = dns;
  return merged;
}

/** Name servers, search domains and options of both (no duplicates); the earlier plugin's domain wins. */
function mergeDns(prev: Json | undefined, own: Json | undefined): JsonObject | undefined {
  if (!isJsonObject(own)) return isJsonObject(prev) ? prev : undefined;
  if (!isJsonObject(prev)) return own;
  const out: Record<string, Json> = { ...own, ...prev };
  for (const key of ['nameservers', 'search', 'options']) {
    const joined = [...new Set([...list(prev[key]), ...list(own[key])])];
    if (joined.length > 0) out[key] = joined;
  }
  return out;
}

/**
 * The part of the runtime's prevResult that the delegate made, for its CHECK:
 * the interfaces it named in its ADD result, the addresses it handed out
 * (re-indexed), its routes and DNS. The bridge plugin checks every address in
 * prevResult on its own interface, so another plugin's addresses would fail it.
 */
export function ownPart(prev: JsonObject, own: JsonObject | undefined): JsonObject {
  if (own === undefined) return prev;
  const ownNames = new Set(list(own['interfaces']).flatMap((i) => (isJsonObject(i) && typeof i['name'] === 'string' ? [i['name']] : [])));
  const ownAddresses = new Set(list(own['ips']).flatMap((ip) => (isJsonObject(ip) && typeof ip['address'] === 'string' ? [ip['address']] : [])));
  const routeKey = (r: Json): string => (isJsonObject(r) ? `${String(r['dst'])} via ${String(r['gw'] ?? '')}` : '');
  const ownRoutes = new Set(list(own['routes']).map(routeKey));
  const prevInterfaces = list(prev['interfaces']);
  const newIndex = new Map<number, number>();
  const interfaces: Json[] = [];
  prevInterfaces.forEach((iface, index) => {
    if (isJsonObject(iface) && typeof iface['name'] === 'string' && ownNames.has(iface['name'])) {
      newIndex.set(index, interfaces.length);
      interfaces.push(iface);
    }
  });
  const ips = list(prev['ips']).flatMap((ip): Json[] => {
    if (!isJsonObject(ip) || typeof ip['address'] !== 'string' || !ownAddresses.has(ip['address'])) return [];
    const index = typeof ip['interface'] === 'number' ? newIndex.get(ip['interface']) : undefined;
    const { interface: _dropped, ...rest } = ip;
    return [index === undefined ? rest : { ...rest, interface: index }];
  });
  const routes = list(prev['routes']).filter((r) => ownRoutes.has(routeKey(r)));
  const out: Record<string, Json> = { cniVersion: prev['cniVersion'] ?? null, interfaces, ips, routes };
  if (own['dns'] !== undefined) out['dns'] = own['dns'];
  return out;
}
