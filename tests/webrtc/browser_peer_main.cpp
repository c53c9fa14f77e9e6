// The C++ side of the Chromium interop test (js/chromium_interop.mjs drives both): one
// PeerConnection whose signaling travels as JSON lines, ours on stdout and the page's on stdin.
//   webrtc_browser_peer offer|answer [--stun IP:port]
// offer: we offer and open the channel "p2p-messenger" (ordered, maxRetransmits 3, protocol
// "p2p-messenger"); answer: we take the page's offer and its channel.
// On the channel: every message is echoed back as it came (string or binary) until "END";
// when the page says "SEND-YOURS" we send "cpp:hello", a 200 KiB binary message and
// "cpp:done". The page later opens a second, reliable channel "bulk": {"type":"bulk",
// "bytes":N} sends N bytes on it in 64 KiB messages between "BULK-START" and "BULK-END"; what
// the page sends the same way is counted and timed. {"type":"summary"} prints what we saw,
// {"type":"close-channel"} closes "p2p-messenger", {"type":"close"} the connection, and
// {"type":"exit"} (or the end of stdin) ends the program.
#include <usrsctp.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "webrtc/asio_poster.hpp"
#include "webrtc/peer_connection.hpp"

using namespace hyphae;
using namespace hyphae::webrtc;
using nlohmann::json;

namespace {

void emit(const json& message) {
  std::cout << message.dump() << '\n';
  std::cout.flush();
}

Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(i * 31 + seed);
  return out;
}

const char* state_name(ConnectionState s) {
  switch (s) {
    case ConnectionState::new_:
      return "new";
    case ConnectionState::connecting:
      return "connecting";
    case ConnectionState::connected:
      return "connected";
    case ConnectionState::failed:
      return "failed";
    case ConnectionState::closed:
      return "closed";
  }
  return "?";
}

struct Session {
  boost::asio::io_context io;
  std::unique_ptr<PeerConnection> pc;
  std::optional<ChannelId> channel;       // "p2p-messenger": echo and the fixed script
  std::optional<ChannelId> bulk_channel;  // "bulk": throughput, reliable
  std::size_t echoed = 0;
  std::size_t received_bytes = 0;
  bool big_ok = false;
  bool saw_end = false;
  // Bulk out.
  bool bulk_active = false;
  std::size_t bulk_left = 0;
  std::chrono::steady_clock::time_point bulk_started;
  // Bulk in.
  bool bulk_in = false;
  std::size_t bulk_in_bytes = 0;
  std::chrono::steady_clock::time_point bulk_in_started;

  void send(std::optional<ChannelId> to, ByteView data, bool binary) {
    if (!to) return;
    auto r = pc->send(*to, data, binary);
    if (!r) emit({{"type", "error"}, {"what", "send: " + r.error().message()}});
  }

  void pump_bulk() {
    static const Bytes chunk = pattern(64 * 1024, 5);
    if (!bulk_active) return;
    while (bulk_left > 0 && bulk_channel && pc->buffered_amount(*bulk_channel) < (1u << 20)) {
      const std::size_t n = std::min(bulk_left, chunk.size());
      auto r = pc->send(*bulk_channel, ByteView(chunk.data(), n), true);
      if (!r) {
        if (r.error() == make_error_code(Errc::backpressure)) return;  // buffered_amount_low resumes
        emit({{"type", "error"}, {"what", "bulk send: " + r.error().message()}});
        bulk_left = 0;
        return;
      }
      bulk_left -= n;
    }
    if (bulk_left == 0) {
      bulk_active = false;
      send(bulk_channel, as_bytes("BULK-END"), false);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - bulk_started).count();
      emit({{"type", "bulk-sent"}, {"seconds", s}});
    }
  }

  void on_message(ChannelId id, Bytes data, bool binary) {
    received_bytes += data.size();
    const std::string text = binary ? std::string() : hyphae::to_string(data);
    if (id != channel) {
      on_bulk_message(binary, text, data.size());
      return;
    }
    if (saw_end) {
      // The page has all the echoes: our own messages now, on a quiet link (a burst right after
      // the echoes can lose the 200 KiB one on this maxRetransmits:3 channel when the host is
      // too busy to read its sockets in time).
      if (!binary && text == "SEND-YOURS") {
        send(channel, as_bytes("cpp:hello"), false);
        send(channel, pattern(200 * 1024, 9), true);
        send(channel, as_bytes("cpp:done"), false);
      }
      return;
    }
    // Echo everything up to END.
    if (binary && data.size() == 200 * 1024) big_ok = data == pattern(200 * 1024, 7);
    auto r = pc->send(id, data, binary);
    if (!r) emit({{"type", "error"}, {"what", "echo: " + r.error().message()}});
    ++echoed;
    if (!binary && text == "END") saw_end = true;
  }

  void on_bulk_message(bool binary, const std::string& text, std::size_t size) {
    if (!binary && text == "BULK-START") {
      bulk_in = true;
      bulk_in_bytes = 0;
      bulk_in_started = std::chrono::steady_clock::now();
      return;
    }
    if (bulk_in) {
      if (!binary && text == "BULK-END") {
        bulk_in = false;
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - bulk_in_started).count();
        emit({{"type", "bulk-received"},
              {"bytes", bulk_in_bytes},
              {"seconds", s},
              {"mib_per_s", static_cast<double>(bulk_in_bytes) / (1 << 20) / s}});
        return;
      }
      bulk_in_bytes += size;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || (std::string(argv[1]) != "offer" && std::string(argv[1]) != "answer")) {
    std::fprintf(stderr, "usage: %s offer|answer [--stun IP:port]\n", argv[0]);
    return 2;
  }
  const bool offerer = std::string(argv[1]) == "offer";
  PeerConnectionConfig config;
  config.buffered_amount_low = 256 * 1024;
  for (int i = 2; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--stun") config.stun_server = argv[i + 1];

  Session s;
  auto guard = boost::asio::make_work_guard(s.io);
  PeerConnectionCallbacks cb;
  cb.on_local_candidate = [](std::string line) { emit({{"type", "candidate"}, {"candidate", line}}); };
  cb.on_end_of_candidates = [] { emit({{"type", "end-of-candidates"}}); };
  cb.on_state = [](ConnectionState st) { emit({{"type", "state"}, {"state", state_name(st)}}); };
  cb.on_channel_open = [&s](const ChannelInfo& info) {
    (info.label == "bulk" ? s.bulk_channel : s.channel) = info.id;
    json open = {{"type", "open"},          {"label", info.label},   {"protocol", info.protocol},
                 {"ordered", info.ordered}, {"stream", info.stream}, {"remote", info.remote}};
    open["maxRetransmits"] = info.max_retransmits ? json(*info.max_retransmits) : json(nullptr);
    emit(open);
  };
  cb.on_message = [&s](ChannelId id, Bytes data, bool binary) { s.on_message(id, std::move(data), binary); };
  cb.on_channel_close = [&s](ChannelId id) {
    emit({{"type", "channel-close"}, {"id", id}, {"label", id == s.bulk_channel ? "bulk" : "p2p-messenger"}});
  };
  cb.on_buffered_amount_low = [&s](ChannelId) { s.pump_bulk(); };
  auto pc = PeerConnection::create(config, std::move(cb), asio_poster(s.io.get_executor()));
  if (!pc) {
    emit({{"type", "error"}, {"what", pc.error().message()}});
    return 1;
  }
  s.pc = std::move(*pc);

  if (offerer) {
    auto offer = s.pc->create_offer();
    if (!offer) return 1;
    emit({{"type", "offer"}, {"sdp", *offer}});
    (void)s.pc->open_channel("p2p-messenger", "p2p-messenger", true, 3);
  }

  // Lines from the page, read on their own thread and handled on the io_context.
  std::thread reader([&s] {
    std::string line;
    while (std::getline(std::cin, line)) {
      boost::asio::post(s.io, [&s, line] {
        auto message = json::parse(line, nullptr, false);
        if (message.is_discarded() || !message.is_object()) return;
        const std::string type = message.value("type", "");
        if (type == "offer") {
          auto answer = s.pc->accept_offer(message.value("sdp", ""));
          if (!answer) {
            emit({{"type", "error"}, {"what", "accept_offer: " + answer.error().message()}});
            return;
          }
          emit({{"type", "answer"}, {"sdp", *answer}});
        } else if (type == "answer") {
          auto r = s.pc->accept_answer(message.value("sdp", ""));
          if (!r) emit({{"type", "error"}, {"what", "accept_answer: " + r.error().message()}});
        } else if (type == "candidate") {
          auto r = s.pc->add_remote_candidate(message.value("candidate", ""));
          if (!r) emit({{"type", "ignored-candidate"}, {"why", r.error().message()}});
        } else if (type == "end-of-candidates") {
          (void)s.pc->add_remote_candidate("");
        } else if (type == "bulk") {
          s.bulk_active = true;
          s.bulk_left = message.value("bytes", std::size_t{0});
          s.bulk_started = std::chrono::steady_clock::now();
          s.send(s.bulk_channel, as_bytes("BULK-START"), false);
          s.pump_bulk();
        } else if (type == "summary") {
          sctpstat stat{};
          usrsctp_get_stat(&stat);
          emit({{"type", "sctp-stats"},
                {"retransmitted", stat.sctps_sendretransdata},
                {"fast_retransmitted", stat.sctps_sendfastretrans},
                {"t3_timeouts", stat.sctps_timodata},
                {"duplicates_in", stat.sctps_recvdupdata},
                {"dropped_rwnd", stat.sctps_datadroprwnd},
                {"packets_out", stat.sctps_outpackets},
                {"packets_in", stat.sctps_inpackets}});
          emit({{"type", "summary"},
                {"echoed", s.echoed},
                {"received_bytes", s.received_bytes},
                {"big_ok", s.big_ok},
                {"saw_end", s.saw_end}});
        } else if (type == "close-channel") {
          if (s.channel) s.pc->close_channel(*s.channel);
        } else if (type == "close") {
          s.pc->close();
          emit({{"type", "closed"}});
        } else if (type == "exit") {
          s.pc->close();
          s.io.stop();
        }
      });
    }
    boost::asio::post(s.io, [&s] { s.io.stop(); });
  });
  s.io.run();
  s.pc.reset();
  reader.detach();  // blocked in getline; the process ends here
  std::_Exit(0);
}
