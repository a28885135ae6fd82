// Media files kept in a MySQL/MariaDB database (`play media` with `db-id`,
// --mysql-host/-port/-user/-pass/-query), read through libmariadb, the client
// library the reference daemon links, so that host, port, user and socket
// defaults are the same ("localhost" means the server's Unix socket).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rtpe {
namespace player {

struct DbConfig {
  std::string host;
  int port = 0;            // 0: the client library's default (3306)
  bool hasUser = false;    // otherwise the library's default (the login name)
  std::string user;
  bool hasPass = false;
  std::string pass;
};

// Runs `query` and copies the first column of its first row into blob. Each
// calling thread keeps its own connection, opened on first use and opened
// again when the server has gone away (up to five attempts per query). An
// empty or NULL value, no row, a failed connection or query: false with err
// saying which. Blocks on the network: call on a media preparation thread only.
bool fetchMediaBlob(const DbConfig& cfg, const std::string& query, std::vector<uint8_t>& blob, std::string& err);

// Initialises the client library; call once on the JavaScript thread before
// any preparation thread runs a query.
void initDbLibrary();

}  // namespace player
}  // namespace rtpe
