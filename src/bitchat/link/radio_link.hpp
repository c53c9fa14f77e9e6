// bitchat::RadioMedium and RadioLink: a simulated radio as a BitChat link, in process. Every
// RadioLink sits at a position on a shared RadioMedium; two links within `range` of each other are
// neighbours (each keeps its max_links nearest); a frame sent to a neighbour arrives after
// latency_ms (+ up to jitter_ms) unless lost with probability `loss`. Moving a link (set_position)
// or stopping it brings neighbours up and down, so a test can run real BitChat transports (and
// whole nodes, many per process) over a radio without sockets. Time is the executors' (real
// timers); the sans-IO simulators on a simulated clock are RadioSim and MeshSim.
// Media are shared by name through a RadioMedia directory (the transport type made by a registry
// holds one), so transports made from configuration with the same registry find each other.
// Thread-safety: a RadioMedium is safe from any thread (one mutex); each RadioLink runs on its
// strand and calls its sink only there. Ownership: links hold the medium by shared_ptr; the
// medium holds links weakly, and a destroyed link is never called again.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "bitchat/link/link.hpp"

namespace hyphae::bitchat {

struct RadioMediumOptions {
  double range = 0.2;  // in the unit square
  std::size_t max_links = 8;
  double loss = 0.0;
  std::uint64_t latency_ms = 5;
  std::uint64_t jitter_ms = 5;
  std::size_t mtu = 512;
  std::uint64_t seed = 1;
};

class RadioLink;
class RadioMedium;

// Media by name: the medium called `name`, made with `options` by whoever asks first, lives while
// a link uses it. Thread-safe (one mutex).
class RadioMedia {
 public:
  std::shared_ptr<RadioMedium> get(const std::string& name, const RadioMediumOptions& options = {});

 private:
  std::mutex mutex_;
  std::map<std::string, std::weak_ptr<RadioMedium>> media_;
};

class RadioMedium : public std::enable_shared_from_this<RadioMedium> {
 public:
  explicit RadioMedium(RadioMediumOptions options) : options_(options), rng_(options.seed) {}
  const RadioMediumOptions& options() const { return options_; }
  std::size_t size() const;
  struct Endpoint;  // one link on the medium (radio_link.cpp)

 private:
  friend class RadioLink;
  void join(const std::shared_ptr<Endpoint>& e);
  void leave(const std::shared_ptr<Endpoint>& e);
  void move(const std::shared_ptr<Endpoint>& e, double x, double y);
  bool send(const std::shared_ptr<Endpoint>& from, LinkId link, ByteView frame);
  void relink();  // recomputes who hears whom; callers hold mutex_

  RadioMediumOptions options_;
  mutable std::mutex mutex_;
  std::vector<std::weak_ptr<Endpoint>> endpoints_;
  std::mt19937_64 rng_;
};

class RadioLink final : public Link {
 public:
  using Strand = boost::asio::strand<boost::asio::any_io_executor>;
  RadioLink(Strand strand, std::shared_ptr<RadioMedium> medium, double x, double y, ShortId self,
            LinkSink& sink);
  ~RadioLink() override;
  RadioLink(const RadioLink&) = delete;
  RadioLink& operator=(const RadioLink&) = delete;

  std::string_view kind() const override { return "radio"; }
  std::error_code start() override;
  void stop() override;
  bool send(LinkId neighbour, ByteView frame) override;
  void drop(LinkId neighbour, const std::string& reason) override;
  std::size_t mtu() const override;
  nlohmann::json status_json() const override;
  // Moves this link: neighbours out of range go down, ones in range come up.
  void set_position(double x, double y);

 private:
  std::shared_ptr<RadioMedium> medium_;
  std::shared_ptr<RadioMedium::Endpoint> endpoint_;
  bool started_ = false;
};

}  // namespace hyphae::bitchat
