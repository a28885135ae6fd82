{
  "targets": [
    {
      "target_name": "rtpengine_native",
      "sources": [
        "native/addon.cc",
        "native/dtmf_events.cc",
        "native/engine.cc",
        "native/kernel.cc",
        "native/kernel_flows.cc",
        "native/learning.cc",
        "native/recorder.cc",
        "native/relay.cc",
        "native/rtcp.cc",
        "native/socket.cc",
        "native/srtp.cc",
        "native/ssrc.cc",
        "native/stream.cc",
        "native/stun.cc",
        "native/worker.cc",
        "native/codec/avcodec.cc",
        "native/codec/binding.cc",
        "native/codec/cn.cc",
        "native/codec/dtmf.cc",
        "native/codec/codec.cc",
        "native/codec/dtx.cc",
        "native/codec/g711.cc",
        "native/codec/g729.cc",
        "native/codec/opus.cc",
        "native/codec/packetizer.cc",
        "native/codec/resampler.cc",
        "native/codec/route.cc",
        "native/codec/transcoder.cc",
        "native/player/audio_player.cc",
        "native/player/binding.cc",
        "native/player/media-db.cc",
        "native/player/player.cc",
        "native/player/playlist.cc",
        "native/player/prep-pool.cc"
      ],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "<!@(pkg-config --cflags libavcodec libavformat libavutil libswresample libmariadb)"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++14"],
      "ldflags": ["-pthread"],
      "libraries": ["<!@(pkg-config --libs libavcodec libavformat libavutil libswresample opus libbcg729 spandsp libmariadb libbpf libsrtp2)", "-lcrypto"]
    },
    {
      "target_name": "rtpengine_fwd_bpf",
      "type": "none",
      "actions": [
        {
          "action_name": "compile_bpf",
          "inputs": ["kernel-module/rtpengine_fwd.bpf.c", "kernel-module/flow.h", "kernel-module/build.sh"],
          "outputs": ["<(PRODUCT_DIR)/rtpengine_fwd.bpf.o"],
          "action": ["sh", "kernel-module/build.sh", "kernel-module/rtpengine_fwd.bpf.c", "<(PRODUCT_DIR)/rtpengine_fwd.bpf.o"]
        }
      ]
    }
  ]
}
