// Endpoint learning: see learning.h for the modes.
#include "learning.h"

namespace rtpe {

void LearningState::reset(const SockAddr& endpoint, int8_t firstSocket, int64_t windowEnd) {
  signalled = endpoint;
  current = endpoint;
  currentSocket = endpoint.valid() ? firstSocket : -1;
  learned = false;
  // Without learning the signalled endpoint is final from the start.
  confirmed = mode == Learning::Off;
  windowEndMs = windowEnd;
  for (int i = 0; i < 4; i++) {
    candidate[i].clear();
    candidateSocket[i] = -1;
  }
}

// Rank of a source against the signalled endpoint, 0 (exact) to 3 (unrelated).
static int rankOf(const SockAddr& src, const SockAddr& signalled) {
  if (!signalled.valid()) return 3;
  if (src == signalled) return 0;
  if (src.sameHost(signalled)) return 1;
  if (src.port() == signalled.port()) return 2;
  return 3;
}

Verdict LearningState::onPacket(const SockAddr& src, int8_t sockIndex, int64_t nowMs) {
  if (confirmed) {
    if (src == current) {
      // The peer may move between the addresses of a multi-homed stream;
      // answer from the socket it was last heard on.
      currentSocket = sockIndex;
      return Verdict::Accept;
    }
    // Without learning there is no endpoint to compare against until one is signalled.
    if (!current.valid()) return Verdict::Accept;
    if (mediaHandover && mode != Learning::Off) {
      current = src;
      currentSocket = sockIndex;
      learned = true;
      return Verdict::AcceptChanged;
    }
    return strictSource ? Verdict::Drop : Verdict::Accept;
  }

  SockAddr const* use = &src;
  int8_t useSocket = sockIndex;
  bool confirm;
  switch (mode) {
    case Learning::Immediate:
      confirm = true;
      break;
    case Learning::Heuristic: {
      int rank = rankOf(src, signalled);
      if (!candidate[rank].valid()) {
        candidate[rank] = src;
        candidateSocket[rank] = sockIndex;
      }
      for (int i = 0; i < 4; i++) {
        if (candidate[i].valid()) {
          use = &candidate[i];
          useSocket = candidateSocket[i];
          break;
        }
      }
      confirm = rank == 0 || nowMs >= windowEndMs;
      break;
    }
    case Learning::Delayed:
    default:
      confirm = nowMs >= windowEndMs;
      break;
  }

  bool changed = false;
  if (!learned || *use != current) {
    current = *use;
    learned = true;
    changed = true;
  }
  currentSocket = useSocket;
  if (confirm) {
    confirmed = true;
    changed = true;
  }
  return changed ? Verdict::AcceptChanged : Verdict::Accept;
}

Verdict LearningState::onIceCheck(const SockAddr& src, int8_t sockIndex, bool nominated) {
  if (confirmed && !nominated) return Verdict::Accept;
  if (confirmed && src == current) {
    currentSocket = sockIndex;
    return Verdict::Accept;
  }
  bool changed = !learned || src != current || (nominated && !confirmed);
  current = src;
  currentSocket = sockIndex;
  learned = true;
  if (nominated) confirmed = true;
  return changed ? Verdict::AcceptChanged : Verdict::Accept;
}

}  // namespace rtpe
