// The browser peer: identity, the Noise XX + libp2p link and envelopes, as nodes speak them.
export * from "./bytes.js";
export * from "./envelope.js";
export * from "./files.js";
export * from "./identity.js";
export * from "./link.js";
export * from "./noise.js";
export * from "./peer_link.js";
export * from "./rtc.js";
export * from "./signaling.js";
