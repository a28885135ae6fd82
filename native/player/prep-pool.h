// The media preparation threads (--media-num-threads): they read media files,
// fetch media from the database and decode and encode it for `play media`,
// so that neither the JavaScript thread nor an engine thread ever waits for
// that work. Jobs run in the order they were queued, each on one thread; a
// job may block (file and network I/O). Not on any packet path.
#pragma once

#include <functional>

namespace rtpe {
namespace player {

// Sets the number of preparation threads; 0 turns media preparation off.
// Takes effect only before the first job (threads are started then, and live
// as long as the process). Runs on the JavaScript thread.
void setPrepThreads(int n);

// The configured number of threads (4 when never set).
int prepThreads();

// Queues a job. False when there are no preparation threads.
bool submitPrep(std::function<void()> job);

}  // namespace player
}  // namespace rtpe
