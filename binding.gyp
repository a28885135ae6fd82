{
  "targets": [
    {
      "target_name": "rtpengine_native",
      "sources": [
        "native/addon.cc",
        "native/engine.cc",
        "native/learning.cc",
        "native/relay.cc",
        "native/socket.cc",
        "native/stream.cc",
        "native/worker.cc"
      ],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++14"],
      "ldflags": ["-pthread"]
    }
  ]
}
