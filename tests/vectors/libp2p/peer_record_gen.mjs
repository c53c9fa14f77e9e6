// Generates signed peer record vectors with js-libp2p (@libp2p/peer-record).
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'

const hex = (b) => Buffer.from(b).toString('hex')
const cases = [
  { seed: Buffer.alloc(32, 1), seq: 1n, addrs: ['/ip4/127.0.0.1/tcp/4001'] },
  { seed: Buffer.from(Array.from({ length: 32 }, (_, i) => i)), seq: 1764720000000n,
    addrs: ['/ip4/10.0.0.2/udp/4001/quic-v1', '/ip6/::1/tcp/4002', '/dns4/relay.example.com/tcp/443/wss',
            '/dns6/example.org/tcp/80/ws', '/dns/example.net/udp/53'] },
  { seed: Buffer.alloc(32, 0xab), seq: 0n, addrs: [] },
]
const out = []
for (const c of cases) {
  const key = await generateKeyPairFromSeed('Ed25519', c.seed)
  const peerId = peerIdFromPrivateKey(key)
  const record = new PeerRecord({ peerId, multiaddrs: c.addrs.map((a) => multiaddr(a)), seqNumber: c.seq })
  const env = await RecordEnvelope.seal(record, key)
  const opened = await RecordEnvelope.openAndCertify(env.marshal(), PeerRecord.DOMAIN)
  out.push({
    seed: hex(c.seed),
    peer_id: peerId.toString(),
    seq: c.seq.toString(),
    multiaddrs: c.addrs,
    multiaddrs_bytes: c.addrs.map((a) => hex(multiaddr(a).bytes)),
    record: hex(record.marshal()),
    payload_type: hex(env.payloadType),
    signature: hex(env.signature),
    envelope: hex(env.marshal()),
    verified: opened.publicKey.equals(key.publicKey),
  })
}
console.log(JSON.stringify({ domain: PeerRecord.DOMAIN, codec: hex(PeerRecord.CODEC), cases: out }, null, 2))

// A Hyphae record: a libp2p PeerRecord with Hyphae's fields (16 and up) appended, sealed by
// js-libp2p as an opaque record, then read back by js-libp2p's own PeerRecord decoder.
{
  const key = await generateKeyPairFromSeed('Ed25519', Buffer.alloc(32, 7))
  const peerId = peerIdFromPrivateKey(key)
  const coordinatorKey = await generateKeyPairFromSeed('Ed25519', Buffer.alloc(32, 8))
  const coordinator = peerIdFromPrivateKey(coordinatorKey)
  const base = new PeerRecord({ peerId, multiaddrs: [multiaddr('/ip4/192.0.2.7/tcp/4001')], seqNumber: 42n })
  const field = (tag, bytes) => Buffer.concat([Buffer.from(tag), Buffer.from([bytes.length]), Buffer.from(bytes)])
  const ext = Buffer.concat([
    Buffer.from([0x80, 0x01, 0x02]),                   // 16 role = SUPER_PEER
    field([0x8a, 0x01], Buffer.from('messaging')),     // 17 services
    field([0x8a, 0x01], Buffer.from('relay')),
    Buffer.from([0x90, 0x01, 0xe8, 0x07]),             // 18 expires_ms = 1000
    field([0x9a, 0x01], coordinator.toMultihash().bytes),  // 19 coordinators
    field([0xa2, 0x01], Buffer.from('eu-west')),       // 20 region
    Buffer.from([0xa8, 0x01, 0x80, 0x01]),             // 21 max_connections = 128
  ])
  const payload = Buffer.concat([Buffer.from(base.marshal()), ext])
  const opaque = { domain: PeerRecord.DOMAIN, codec: PeerRecord.CODEC, marshal: () => payload, equals: () => false }
  const env = await RecordEnvelope.seal(opaque, key)
  const opened = await RecordEnvelope.openAndCertify(env.marshal(), PeerRecord.DOMAIN)
  const readBack = PeerRecord.createFromProtobuf(opened.payload)
  const result = {
    seed: hex(Buffer.alloc(32, 7)), peer_id: peerId.toString(), coordinator: coordinator.toString(),
    record: hex(payload), envelope: hex(env.marshal()),
    js_reads: { peer_id: readBack.peerId.toString(), seq: readBack.seqNumber.toString(),
                multiaddrs: readBack.multiaddrs.map((m) => m.toString()) },
  }
  console.error(JSON.stringify(result, null, 2))
}
