// Endpoint learning: which remote address a stream sends to, decided from the
// signalled address and the sources of the packets it receives.
//
// Modes (rtpengine's --endpoint-learning and the asymmetric flag):
// - off: never learn; the signalled endpoint is used as it is (asymmetric).
// - immediate: the source of the first packet becomes the endpoint and is fixed.
// - delayed: during the learning window (3 s after the last signalling, as the
//   reference counts it) the endpoint follows the source of the packets; the
//   first packet after the window fixes it.
// - heuristic: like delayed, but among the sources seen during the window the
//   one closest to the signalled endpoint wins (same address and port, then same
//   address, then same port, then anything); an exact match fixes it at once.
// Once fixed ("confirmed"), strict source drops packets from other sources and
// media handover moves the endpoint to the newest source instead.
#pragma once

#include <cstdint>

#include "socket.h"

namespace rtpe {

// The values are part of the addon's configure() layout (addon.cc).
enum class Learning : uint8_t { Off, Immediate, Delayed, Heuristic };

// What the packet path does with a packet after the source check.
enum class Verdict : uint8_t {
  Accept,         // forward; the endpoint did not change
  AcceptChanged,  // forward; the endpoint or its confirmation changed (publish, emit)
  Drop,           // strict source mismatch: count and drop
};

// The learning state of one stream. Owned by the stream's engine thread.
struct LearningState {
  Learning mode = Learning::Off;
  bool strictSource = false;
  bool mediaHandover = false;

  SockAddr signalled;       // as given by signalling; may be empty
  SockAddr current;         // where packets to this stream's peer go; may be empty
  int8_t currentSocket = -1;  // index of the local socket to send from, -1 if none
  bool learned = false;     // current was taken from a received packet
  bool confirmed = false;   // current is fixed
  int64_t windowEndMs = 0;  // monotonic ms; learning window end (delayed, heuristic)

  // Heuristic candidates by rank (0 = best); empty when not seen.
  SockAddr candidate[4];
  int8_t candidateSocket[4] = {-1, -1, -1, -1};

  // Starts over from the signalled endpoint. firstSocket is the local socket
  // whose family matches it (-1 if none).
  void reset(const SockAddr& endpoint, int8_t firstSocket, int64_t windowEnd);

  // Applies a packet from src that arrived on local socket sockIndex.
  // Runs on the engine thread; never blocks; no allocation.
  Verdict onPacket(const SockAddr& src, int8_t sockIndex, int64_t nowMs);

  // Applies a successful ICE connectivity check from src on local socket
  // sockIndex: a nominated pair (USE-CANDIDATE) becomes the fixed endpoint; any
  // other check moves the endpoint while it is not fixed yet. Returns
  // AcceptChanged when the endpoint or its confirmation changed.
  // Runs on the engine thread; never blocks; no allocation.
  Verdict onIceCheck(const SockAddr& src, int8_t sockIndex, bool nominated);
};

}  // namespace rtpe
