// Events the engine threads report to JavaScript, in batches.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dtmf_events.h"
#include "socket.h"

namespace rtpe {

struct Event {
  enum class Type : uint8_t { Learned, Error, Dtmf };
  Type type = Type::Learned;
  uint32_t id = 0;  // stream id; 0 when the event is about the engine itself
  SockAddr endpoint;       // Learned: the stream's endpoint now; Dtmf: where the key press came from
  bool confirmed = false;  // Learned: the endpoint is now fixed
  DigitEnd digit;          // Dtmf: the key press that ended
  std::string code;        // Error: stable code ("EBADF", "EENGINE")
  std::string message;     // Error: what happened
};

// Receives a batch of events. Called on an engine thread; must not block.
using EventSink = std::function<void(std::vector<Event>&&)>;

}  // namespace rtpe
