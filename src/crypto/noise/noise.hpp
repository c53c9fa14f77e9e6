// Umbrella header of hyphae::noise, the Noise Protocol Framework (revision 34) as a sans-IO
// library: Protocol (names and patterns), CipherState (transport), HandshakeState (handshakes),
// seal/open (one-way sealed messages). See docs/protocols/noise.md. Thread-safety and ownership
// are documented per type in the included headers.
#pragma once

#include "crypto/noise/cipher_state.hpp"
#include "crypto/noise/handshake_state.hpp"
#include "crypto/noise/protocol.hpp"
#include "crypto/noise/seal.hpp"
