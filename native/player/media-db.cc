#include "media-db.h"

#include <errmsg.h>
#include <mysql.h>

namespace rtpe {
namespace player {

namespace {

// A connection must not be shared between threads: each preparation thread
// has one, for the life of the thread.
thread_local MYSQL* conn = nullptr;

// How long a connection attempt may hold a preparation thread (s). The client
// library would otherwise wait for the operating system's TCP timeout when
// the server's host does not answer at all.
constexpr unsigned int kConnectTimeoutS = 5;
constexpr int kAttempts = 5;

void disconnect() {
  if (conn) mysql_close(conn);
  conn = nullptr;
}

bool connect(const DbConfig& cfg, std::string& err) {
  disconnect();
  conn = mysql_init(nullptr);
  if (!conn) {
    err = "out of memory";
    return false;
  }
  unsigned int timeout = kConnectTimeoutS;
  mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  if (!mysql_real_connect(conn, cfg.host.c_str(), cfg.hasUser ? cfg.user.c_str() : nullptr,
                          cfg.hasPass ? cfg.pass.c_str() : nullptr, nullptr, static_cast<unsigned int>(cfg.port),
                          nullptr, CLIENT_IGNORE_SIGPIPE)) {
    err = std::string("failed to connect to database: ") + mysql_error(conn);
    disconnect();
    return false;
  }
  return true;
}

}  // namespace

void initDbLibrary() {
  static bool done = false;
  if (!done) mysql_library_init(0, nullptr, nullptr);
  done = true;
}

bool fetchMediaBlob(const DbConfig& cfg, const std::string& query, std::vector<uint8_t>& blob, std::string& err) {
  bool sent = false;
  for (int attempt = 0; attempt < kAttempts && !sent; attempt++) {
    if ((!conn || attempt > 0) && !connect(cfg, err)) return false;
    if (mysql_real_query(conn, query.data(), query.size()) == 0) {
      sent = true;
      break;
    }
    unsigned int code = mysql_errno(conn);
    err = std::string("query failed: ") + mysql_error(conn);
    // Only a lost connection is worth another attempt; a wrong query is not.
    if (code != CR_SERVER_GONE_ERROR && code != CR_SERVER_LOST) return false;
  }
  if (!sent) {
    err = "exceeded the number of attempts (" + err + ")";
    return false;
  }
  MYSQL_RES* res = mysql_store_result(conn);
  if (!res) {
    err = std::string("no result from database: ") + (mysql_errno(conn) ? mysql_error(conn) : "the query returns no rows");
    return false;
  }
  MYSQL_ROW row = mysql_fetch_row(res);
  unsigned long* lengths = row ? mysql_fetch_lengths(res) : nullptr;
  bool ok = row && lengths && mysql_num_fields(res) > 0 && row[0] && lengths[0] > 0;
  if (ok) blob.assign(reinterpret_cast<const uint8_t*>(row[0]), reinterpret_cast<const uint8_t*>(row[0]) + lengths[0]);
  else err = "empty result from database";
  mysql_free_result(res);
  return ok;
}

}  // namespace player
}  // namespace rtpe
