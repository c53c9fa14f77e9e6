// RadioMedium and RadioLink: a simulated radio as a BitChat link (see the header).
#include "bitchat/link/radio_link.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.hpp"

namespace hyphae::bitchat {

namespace asio = boost::asio;

struct RadioMedium::Endpoint {
  explicit Endpoint(RadioLink::Strand s) : strand(std::move(s)) {}  // a strand needs its executor
  RadioLink::Strand strand;
  LinkSink* sink = nullptr;
  ShortId self{};
  double x = 0, y = 0;
  // Guarded by the medium's mutex:
  bool alive = true;  // false once the link is destroyed: never call its sink again
  bool joined = false;
  std::map<Endpoint*, LinkId> link_to;  // neighbour -> our link id for it
  std::map<LinkId, std::weak_ptr<Endpoint>> by_link;
  std::uint64_t frames_sent = 0, frames_received = 0, frames_lost = 0;
};

namespace {

// Calls `f(sink)` on the endpoint's strand if it is still alive then (and, for frames, the link
// still exists).
template <class F>
void post_to(const std::shared_ptr<RadioMedium::Endpoint>& e, std::mutex& mutex, F f) {
  asio::post(e->strand, [weak = std::weak_ptr(e), &mutex, f = std::move(f)]() mutable {
    auto target = weak.lock();
    if (!target) return;
    LinkSink* sink = nullptr;
    {
      std::lock_guard lock(mutex);
      if (target->alive) sink = target->sink;
    }
    if (sink) f(*sink, *target);
  });
}

double distance(const RadioMedium::Endpoint& a, const RadioMedium::Endpoint& b) {
  return std::hypot(a.x - b.x, a.y - b.y);
}

}  // namespace

std::shared_ptr<RadioMedium> RadioMedia::get(const std::string& name, const RadioMediumOptions& options) {
  std::lock_guard lock(mutex_);
  std::erase_if(media_, [](const auto& entry) { return entry.second.expired(); });
  if (auto existing = media_[name].lock()) return existing;
  auto made = std::make_shared<RadioMedium>(options);
  media_[name] = made;
  return made;
}

std::size_t RadioMedium::size() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& w : endpoints_)
    if (auto e = w.lock(); e && e->joined) ++n;
  return n;
}

void RadioMedium::relink() {
  std::vector<std::shared_ptr<Endpoint>> live;
  std::erase_if(endpoints_, [](const std::weak_ptr<Endpoint>& w) { return w.expired(); });
  for (const auto& w : endpoints_)
    if (auto e = w.lock(); e && e->joined && e->alive) live.push_back(e);
  // Each endpoint's max_links nearest within range; a link needs both ends to choose it.
  std::map<Endpoint*, std::set<Endpoint*>> wants;
  for (const auto& a : live) {
    std::vector<std::pair<double, Endpoint*>> near;
    for (const auto& b : live)
      if (a != b && distance(*a, *b) <= options_.range) near.emplace_back(distance(*a, *b), b.get());
    std::sort(near.begin(), near.end());
    if (near.size() > options_.max_links) near.resize(options_.max_links);
    for (const auto& [d, b] : near) wants[a.get()].insert(b);
  }
  std::map<Endpoint*, std::shared_ptr<Endpoint>> by_ptr;
  for (const auto& e : live) by_ptr[e.get()] = e;
  // Links that end: every link of an endpoint that left or is no longer wanted both ways.
  for (const auto& w : endpoints_) {
    auto a = w.lock();
    if (!a) continue;
    for (auto it = a->link_to.begin(); it != a->link_to.end();) {
      Endpoint* b = it->first;
      const bool keep = by_ptr.contains(a.get()) && by_ptr.contains(b) && wants[a.get()].contains(b) &&
                        wants[b].contains(a.get());
      if (keep) {
        ++it;
        continue;
      }
      const LinkId id = it->second;
      a->by_link.erase(id);
      it = a->link_to.erase(it);
      post_to(a, mutex_,
              [id](LinkSink& sink, Endpoint&) { sink.on_neighbour_down(id, "out of radio range"); });
    }
  }
  // Links that begin.
  for (const auto& a : live)
    for (Endpoint* b : wants[a.get()]) {
      if (a.get() > b || !wants[b].contains(a.get()) || a->link_to.contains(b)) continue;
      const auto& bp = by_ptr[b];
      const LinkId at_a = next_link_id(), at_b = next_link_id();
      a->link_to[b] = at_a;
      a->by_link[at_a] = bp;
      b->link_to[a.get()] = at_b;
      b->by_link[at_b] = a;
      const std::size_t mtu = options_.mtu;
      post_to(a, mutex_, [at_a, who = b->self, mtu](LinkSink& sink, Endpoint&) {
        sink.on_neighbour_up(at_a, who, "radio", mtu);
      });
      post_to(bp, mutex_, [at_b, who = a->self, mtu](LinkSink& sink, Endpoint&) {
        sink.on_neighbour_up(at_b, who, "radio", mtu);
      });
    }
}

void RadioMedium::join(const std::shared_ptr<Endpoint>& e) {
  std::lock_guard lock(mutex_);
  e->joined = true;
  endpoints_.push_back(e);
  relink();
}

void RadioMedium::leave(const std::shared_ptr<Endpoint>& e) {
  std::lock_guard lock(mutex_);
  e->joined = false;
  relink();
}

void RadioMedium::move(const std::shared_ptr<Endpoint>& e, double x, double y) {
  std::lock_guard lock(mutex_);
  e->x = x;
  e->y = y;
  relink();
}

bool RadioMedium::send(const std::shared_ptr<Endpoint>& from, LinkId link, ByteView frame) {
  std::shared_ptr<Endpoint> to;
  LinkId at_to = 0;
  std::chrono::milliseconds delay{};
  {
    std::lock_guard lock(mutex_);
    auto it = from->by_link.find(link);
    if (it == from->by_link.end() || frame.size() > options_.mtu * 128) return false;
    to = it->second.lock();
    if (!to) return false;
    auto back = to->link_to.find(from.get());
    if (back == to->link_to.end()) return false;
    at_to = back->second;
    ++from->frames_sent;
    if (options_.loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < options_.loss) {
      ++from->frames_lost;
      return true;  // lost in the air, as radio frames are
    }
    const auto jitter =
        options_.jitter_ms ? std::uniform_int_distribution<std::uint64_t>(0, options_.jitter_ms)(rng_) : 0;
    delay = std::chrono::milliseconds(options_.latency_ms + jitter);
  }
  auto bytes = std::make_shared<const Bytes>(frame.begin(), frame.end());
  auto timer = std::make_shared<asio::steady_timer>(to->strand, delay);
  timer->async_wait([this, self = shared_from_this(), timer, weak = std::weak_ptr(to), at_to,
                     bytes](boost::system::error_code ec) {
    auto target = weak.lock();
    if (ec || !target) return;
    LinkSink* sink = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (target->alive && target->by_link.contains(at_to)) {
        sink = target->sink;
        ++target->frames_received;
      }
    }
    if (sink) sink->on_frame(at_to, *bytes);
  });
  return true;
}

RadioLink::RadioLink(Strand strand, std::shared_ptr<RadioMedium> medium, double x, double y, ShortId self,
                     LinkSink& sink)
    : medium_(std::move(medium)), endpoint_(std::make_shared<RadioMedium::Endpoint>(std::move(strand))) {
  endpoint_->sink = &sink;
  endpoint_->self = self;
  endpoint_->x = x;
  endpoint_->y = y;
}

RadioLink::~RadioLink() {
  {
    std::lock_guard lock(medium_->mutex_);
    endpoint_->alive = false;  // our sink is never called again, even by handlers already posted
  }
  if (started_) medium_->leave(endpoint_);
}

std::error_code RadioLink::start() {
  if (started_) return Errc::invalid_argument;
  started_ = true;
  {
    std::lock_guard lock(medium_->mutex_);
    endpoint_->alive = true;
  }
  medium_->join(endpoint_);
  return {};
}

void RadioLink::stop() {
  if (!started_) return;
  started_ = false;
  std::vector<LinkId> mine;
  {
    std::lock_guard lock(medium_->mutex_);
    for (const auto& [id, w] : endpoint_->by_link) mine.push_back(id);
  }
  medium_->leave(endpoint_);  // the neighbours hear it; so do we, now:
  {
    std::lock_guard lock(medium_->mutex_);
    endpoint_->alive = false;  // drop the posted "down"s: they are delivered here instead
  }
  for (auto id : mine) endpoint_->sink->on_neighbour_down(id, "link stopped");
}

bool RadioLink::send(LinkId neighbour, ByteView frame) {
  return started_ && medium_->send(endpoint_, neighbour, frame);
}

void RadioLink::drop(LinkId neighbour, const std::string& reason) {
  // A radio cannot refuse to hear a neighbour in range: the frames of a misbehaving one are
  // dropped by the mesh node itself. Report nothing.
}

std::size_t RadioLink::mtu() const {
  return medium_->options().mtu;
}

void RadioLink::set_position(double x, double y) {
  medium_->move(endpoint_, x, y);
}

nlohmann::json RadioLink::status_json() const {
  std::lock_guard lock(medium_->mutex_);
  nlohmann::json neighbours = nlohmann::json::array();
  for (const auto& [peer, id] : endpoint_->link_to)
    neighbours.push_back({{"link", id}, {"mesh_id", to_hex(peer->self)}});
  return {{"kind", "radio"},
          {"position", {endpoint_->x, endpoint_->y}},
          {"range", medium_->options().range},
          {"mtu", medium_->options().mtu},
          {"neighbours", std::move(neighbours)},
          {"counters",
           {{"frames_sent", endpoint_->frames_sent},
            {"frames_received", endpoint_->frames_received},
            {"frames_lost", endpoint_->frames_lost}}}};
}

}  // namespace hyphae::bitchat
