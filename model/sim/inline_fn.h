// inline_fn.h - a move-only void() callable stored inline (no heap).
//
// Contract: holds any callable of at most kCapacity bytes whose move
// constructor does not throw; larger callables are a compile error (wrap them
// in a pointer). Used for simulated-thread bodies, which are created once per
// execution: millions of times per second, so they must not allocate.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace kqsim::sim {

class InlineFn {
 public:
  static constexpr size_t kCapacity = 96;

  InlineFn() = default;
  template <class F, class D = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<D, InlineFn> && std::is_invocable_v<D&>>>
  InlineFn(F&& f) {  // NOLINT: implicit by design
    static_assert(sizeof(D) <= kCapacity, "simulated-thread body too large: capture a pointer instead");
    static_assert(alignof(D) <= alignof(std::max_align_t), "over-aligned thread body");
    static_assert(std::is_nothrow_move_constructible_v<D>, "thread body must be nothrow movable");
    ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
    invoke_ = [](void* p) { (*static_cast<D*>(p))(); };
    ops_ = [](void* dst, void* src) {
      if (dst != nullptr) ::new (dst) D(std::move(*static_cast<D*>(src)));
      static_cast<D*>(src)->~D();
    };
  }
  InlineFn(InlineFn&& o) noexcept { move_from(o); }
  InlineFn& operator=(InlineFn&& o) noexcept {
    if (this != &o) {
      reset();
      move_from(o);
    }
    return *this;
  }
  InlineFn(const InlineFn&) = delete;
  InlineFn& operator=(const InlineFn&) = delete;
  ~InlineFn() { reset(); }

  explicit operator bool() const { return invoke_ != nullptr; }
  void operator()() { invoke_(buf_); }
  void reset() {
    if (ops_ != nullptr) ops_(nullptr, buf_);
    invoke_ = nullptr;
    ops_ = nullptr;
  }

 private:
  void move_from(InlineFn& o) {
    if (o.ops_ == nullptr) return;
    o.ops_(buf_, o.buf_);
    invoke_ = o.invoke_;
    ops_ = o.ops_;
    o.invoke_ = nullptr;
    o.ops_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char buf_[kCapacity];
  void (*invoke_)(void*) = nullptr;
  void (*ops_)(void* dst, void* src) = nullptr;
};

}  // namespace kqsim::sim
