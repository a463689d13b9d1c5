/**
 * One level-triggered pass over a WireGuard device: read it, plan, send the
 * plan, read it back and plan again. A set is applied line by line and may
 * stop halfway, and a device may change under us, so the outcome is judged by
 * the read-back (`remaining`), not by the set's errno; whatever remains is
 * planned again on the next pass.
 */
import { type SecretKey, publicKeyOf } from '../../core/wireguard/keys.js';
import { WireguardControlError } from '../../core/wireguard/errors.js';
import { type DesiredPeer, planPeers } from '../../core/wireguard/peer-plan.js';
import type { DeviceState, PeerOp } from '../../core/wireguard/uapi-codec.js';
import type { WireguardControl } from './uapi-client.js';

export interface PeerSyncReport {
  /** What this pass sent (empty when the device already matched). */
  readonly sent: readonly PeerOp[];
  /** The device's refusal of the set, if it refused a line. */
  readonly setError: WireguardControlError | undefined;
  /** The device as read back after the set (or before, when nothing was sent). */
  readonly state: DeviceState;
  /** What is still to do according to the read-back: empty = converged. */
  readonly remaining: readonly PeerOp[];
}

/** Brings the device's peers to `desired`; throws only when the device cannot be read. */
export async function syncPeers(control: WireguardControl, desired: readonly DesiredPeer[]): Promise<PeerSyncReport> {
  const before = await control.get();
  const sent = planPeers(desired, before.peers);
  if (sent.length === 0) return { sent, setError: undefined, state: before, remaining: [] };
  let setError: WireguardControlError | undefined;
  try {
    await control.set({ peers: sent });
  } catch (err) {
    if (!(err instanceof WireguardControlError) || err.errno === undefined) throw err;
    setError = err;
  }
  const state = await control.get();
  return { sent, setError, state, remaining: planPeers(desired, state.peers) };
}

export interface DeviceSettings {
  readonly privateKey: SecretKey;
  readonly listenPort: number;
}

/**
 * Sets the private key and listen port when the device's differ (a new
 * wireguard-go starts with neither). Peers stay. Returns true when it changed
 * something; throws WireguardControlError when the read-back still differs
 * (e.g. the port is taken: wireguard-go answers EADDRINUSE after setting the key).
 */
export async function ensureDeviceSettings(control: WireguardControl, settings: DeviceSettings): Promise<boolean> {
  const publicKey = publicKeyOf(settings.privateKey);
  const before = await control.get();
  if (before.publicKey === publicKey && before.listenPort === settings.listenPort) return false;
  let setError: unknown;
  try {
    await control.set({
      ...(before.publicKey === publicKey ? {} : { privateKey: settings.privateKey }),
      ...(before.listenPort === settings.listenPort ? {} : { listenPort: settings.listenPort }),
    });
  } catch (err) {
    setError = err;
  }
  const after = await control.get();
  if (after.publicKey !== publicKey || after.listenPort !== settings.listenPort) {
    const why = setError instanceof Error ? setError.message : 'the read-back differs';
    throw new WireguardControlError(`${control.device}: could not set its key and listen port ${settings.listenPort}: ${why}`,
      { device: control.device, socketPath: setError instanceof WireguardControlError ? setError.socketPath : '', operation: 'set',
        ...(setError instanceof WireguardControlError && setError.errno !== undefined ? { errno: setError.errno } : {}),
        ...(setError === undefined ? {} : { cause: setError }) });
  }
  return true;
}
