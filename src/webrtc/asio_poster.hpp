// A Poster that runs PeerConnection events on a Boost.Asio executor (an io_context's, a strand).
// Thread-safety: as boost::asio::post. Ownership: the Poster copies the executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include "webrtc/peer_connection.hpp"

namespace hyphae::webrtc {

inline Poster asio_poster(boost::asio::any_io_executor executor) {
  return [executor = std::move(executor)](std::function<void()> task) {
    boost::asio::post(executor, std::move(task));
  };
}

}  // namespace hyphae::webrtc
