/** Lease values as peers (weft or flanneld) would write them, for tests. */
export function peerValue(publicIp: string, mac: string, nodeName?: string): string {
  return JSON.stringify({
    PublicIP: publicIp, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac },
    ...(nodeName ? { NodeName: nodeName } : {}),
  });
}
