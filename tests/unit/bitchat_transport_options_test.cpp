// The BitChat transport's bound options: accepted within their ranges, refused outside them with
// the key named, so a typo cannot silently leave a bound at a value nobody chose.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "core/identity.hpp"
#include "transport/bitchat/bitchat_transport.hpp"

namespace hyphae {
namespace {

std::expected<std::unique_ptr<transport::Transport>, std::string> make(
    boost::asio::io_context& io, const Identity& id, std::map<std::string, std::string> options) {
  options["type"] = "bitchat";
  options["listen"] = "127.0.0.1:0";
  return transport::bitchat_transport_type().factory(
      transport::TransportContext{.name = "mesh",
                                  .options = std::move(options),
                                  .strand = boost::asio::make_strand(io.get_executor()),
                                  .identity = &id});
}

TEST(BitchatTransportOptions, BoundsAreReadWithinTheirRangesAndRefusedOutside) {
  boost::asio::io_context io;
  const auto id = Identity::generate();
  auto ok = make(io, id,
                 {{"max_sender_buckets", "100"},
                  {"max_known_peers", "500"},
                  {"max_sync_reply_bytes", "2048"},
                  {"sync_reply_rate", "100"},
                  {"sync_reply_total_rate", "1000"},
                  {"handshake_reply_rate", "10"}});
  EXPECT_TRUE(ok) << ok.error();
  const std::pair<const char*, const char*> bad[] = {
      {"max_sender_buckets", "0"},     {"max_sender_buckets", "many"},      {"max_known_peers", "15"},
      {"max_sync_reply_bytes", "100"}, {"max_sync_reply_bytes", "2000000"}, {"sync_reply_rate", "0"},
      {"sync_reply_total_rate", "-1"}, {"handshake_reply_rate", "0"},
  };
  for (const auto& [key, value] : bad) {
    auto refused = make(io, id, {{key, value}});
    ASSERT_FALSE(refused) << key << "=" << value;
    EXPECT_NE(refused.error().find(key), std::string::npos) << refused.error();
  }
}

}  // namespace
}  // namespace hyphae
