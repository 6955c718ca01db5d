// list.h - instrumented intrusive lists: the BSD queue(3) TAILQ, LIST and SLIST
// that kern_event uses, with every link access a scheduling point.
//
// Contract
// --------
// An element type contains one entry member per list it can be on, as in
// FreeBSD's `struct knote`:
//
//   struct knote {
//     sim::SlistEntry kn_link;     // SLIST_ENTRY(knote) kn_link
//     sim::SlistEntry kn_selnext;  // SLIST_ENTRY(knote) kn_selnext
//     sim::TailqEntry kn_tqe;      // TAILQ_ENTRY(knote) kn_tqe
//   };
//   sim::TailqHead<knote, &knote::kn_tqe> kq_head;         // TAILQ_HEAD(, knote)
//   sim::SlistHead<knote, &knote::kn_selnext> kl_list;     // SLIST_HEAD(klist, knote)
//
// Every link (an entry's next/prev, and the head's own first/last) is a
// sim::Cell. Under a running Scheduler each link read or write is therefore one
// scheduling point and one event for the race detector, and two list
// operations that no lock orders really interleave at link granularity: an
// unlocked concurrent TAILQ_INSERT_TAIL can lose an element or leave the
// forward and backward chains disagreeing, exactly as in FreeBSD PR kern/57945.
// Outside a Scheduler (live mode, setup code) the lists are ordinary lists.
//
// Operations carry the BSD names (the label, see below) and FreeBSD semantics:
// insert/remove never allocate, an element is on at most one list per entry,
// removing does not clear the removed element's links (FreeBSD without
// QUEUE_MACRO_DEBUG_TRASH), FOREACH reads the next link before calling the body
// (TAILQ_FOREACH_SAFE), so the body may remove the current element.
//
// Each operation takes `SrcLoc loc = SrcLoc::current()` last and passes it to
// every Cell access, so traces and race reports name the call site of the
// list operation, not this header. For its duration each operation sets the
// calling thread's scheduler label to its BSD name ("TAILQ_INSERT_TAIL"), so a
// race report reads "... during TAILQ_INSERT_TAIL", and restores the previous
// label on exit (also when the execution is unwound). TAILQ and LIST link
// accesses are traced under the queue(3) field they touch ("store tqe_next",
// "load tqh_last", "store le_prev"; "store next" in operations that do not
// know the head), so a trace shows which pointer each CPU wrote.
//
// Representation. TAILQ and LIST are circular doubly linked lists with the head
// as sentinel node (Boost.Intrusive circular_list_algorithms): head.next is the
// first element (tqh_first), head.prev the last (tqh_last), an element's prev
// points at the previous entry or at the head's sentinel (FreeBSD's tqe_prev
// points at the previous *next field*; same information, one indirection less).
// SLIST is a NULL-terminated singly linked list whose head is an entry whose
// next is the first element (linear_slist_algorithms). Heads are not copyable
// or movable (a circular head points at itself). A default-constructed head is
// an empty list (initialised without scheduling points); init() is the
// instrumented TAILQ_INIT / LIST_INIT / SLIST_INIT.
//
// Cost: each operation performs a fixed number of link reads and writes, one
// scheduling point each and nothing else (no allocation, no virtual call); the
// table is in docs/lists.md and is asserted by tests/sim/list_test.cc.
//
// Corruption met during an operation (a NULL link followed, SLIST_REMOVE not
// finding the element, SLIST_REMOVE_HEAD on an empty list) is what would crash
// or panic the kernel: under a Scheduler it is a fatal kListCorruption finding
// naming the operation and call site; outside one it prints the message and
// aborts. The full consistency checks (walk both ways, count, cycles) are in
// list_check.h.
#pragma once

#include <boost/intrusive/circular_list_algorithms.hpp>
#include <boost/intrusive/linear_slist_algorithms.hpp>
#include <boost/intrusive/parent_from_member.hpp>
#include <type_traits>

#include "model/sim/cell.h"
#include "model/sim/scheduler.h"
#include "model/sim/srcloc.h"

namespace kqsim::sim {

// TAILQ_ENTRY(type): next and prev (see "Representation" above).
struct TailqEntry {
  Cell<TailqEntry*> next;
  Cell<TailqEntry*> prev;
};

// LIST_ENTRY(type).
struct ListEntry {
  Cell<ListEntry*> next;
  Cell<ListEntry*> prev;
};

// SLIST_ENTRY(type).
struct SlistEntry {
  Cell<SlistEntry*> next;
};

namespace list_detail {

// Cold paths (list.cc). Each files a fatal kListCorruption finding under a
// Scheduler (and then does not return, unless the execution is already being
// unwound); outside a Scheduler it prints the message and aborts.
void null_link(SrcLoc loc);
void not_on_list(const char* what, SrcLoc loc);

// Sets the running thread's label for the lifetime of the object.
class OpLabel {
 public:
  explicit OpLabel(const char* label) : s_(Scheduler::current()) {
    if (s_ != nullptr) old_ = s_->set_label(label);
  }
  ~OpLabel() {
    if (s_ != nullptr) s_->set_label(old_);
  }
  OpLabel(const OpLabel&) = delete;
  OpLabel& operator=(const OpLabel&) = delete;

 private:
  Scheduler* s_;
  const char* old_ = nullptr;
};

// The node pointer the Boost.Intrusive algorithms traffic in: a pointer to an
// entry plus the source location of the list operation. NodeTraits are static
// functions without context, so the call site rides along with the pointer and
// every get_/set_ hands it to the Cell access. Compared by pointer only.
// `head` (optional) is the list's head sentinel, so that traces can name the
// link written: the head's first/last or an element's next/prev.
template <class E>
struct Ref {
  E* p = nullptr;
  SrcLoc loc;
  const E* head = nullptr;

  Ref() = default;
  Ref(E* ptr, SrcLoc l, const E* h = nullptr) : p(ptr), loc(l), head(h) {}
  explicit operator bool() const { return p != nullptr; }
  bool operator!() const { return p == nullptr; }
  friend bool operator==(const Ref& a, const Ref& b) { return a.p == b.p; }
};

// The trace name of an access to a link of `n`: "store tqe_next", "load
// tqh_last", ... (TAILQ: tqh_first/tqh_last of the head, tqe_next/tqe_prev of
// an element; LIST: lh_first, lh_last for our sentinel's prev, le_next,
// le_prev), or "store next" when the head is not known (static operations).
template <class E>
const char* link_op(const E* n, const E* head, bool store, bool next) {
  static constexpr const char* kNames[2][3][2][2] = {
      // [TAILQ?][element, head, unknown][store?][next?]
      {{{"load le_prev", "load le_next"}, {"store le_prev", "store le_next"}},
       {{"load lh_last", "load lh_first"}, {"store lh_last", "store lh_first"}},
       {{"load prev", "load next"}, {"store prev", "store next"}}},
      {{{"load tqe_prev", "load tqe_next"}, {"store tqe_prev", "store tqe_next"}},
       {{"load tqh_last", "load tqh_first"}, {"store tqh_last", "store tqh_first"}},
       {{"load prev", "load next"}, {"store prev", "store next"}}},
  };
  const int which = head == nullptr ? 2 : n == head ? 1 : 0;
  return kNames[std::is_same_v<E, TailqEntry> ? 1 : 0][which][store ? 1 : 0][next ? 1 : 0];
}

// NodeTraits for TailqEntry/ListEntry (circular_list_algorithms). A NULL node
// is never dereferenced: following it is reported as corruption (the kernel
// would fault there) and the access is skipped if the report returns.
template <class E>
struct DoubleTraits {
  using node = E;
  using node_ptr = Ref<E>;
  using const_node_ptr = Ref<E>;

  static node_ptr get_next(const node_ptr& n) {
    if (!n.p) [[unlikely]] return null_ref(n.loc);
    return node_ptr(n.p->next.load(n.loc, [&n] { return link_op(n.p, n.head, false, true); }), n.loc, n.head);
  }
  static void set_next(const node_ptr& n, const node_ptr& v) {
    if (!n.p) [[unlikely]] return null_link(n.loc);
    n.p->next.store(v.p, n.loc, [&n] { return link_op(n.p, n.head, true, true); });
  }
  static node_ptr get_previous(const node_ptr& n) {
    if (!n.p) [[unlikely]] return null_ref(n.loc);
    return node_ptr(n.p->prev.load(n.loc, [&n] { return link_op(n.p, n.head, false, false); }), n.loc, n.head);
  }
  static void set_previous(const node_ptr& n, const node_ptr& v) {
    if (!n.p) [[unlikely]] return null_link(n.loc);
    n.p->prev.store(v.p, n.loc, [&n] { return link_op(n.p, n.head, true, false); });
  }

 private:
  static node_ptr null_ref(SrcLoc loc) {
    null_link(loc);
    return node_ptr(nullptr, loc);
  }
};

// NodeTraits for SlistEntry (linear_slist_algorithms).
struct SingleTraits {
  using node = SlistEntry;
  using node_ptr = Ref<SlistEntry>;
  using const_node_ptr = Ref<SlistEntry>;

  static node_ptr get_next(const node_ptr& n) {
    if (!n.p) [[unlikely]] {
      null_link(n.loc);
      return node_ptr(nullptr, n.loc);
    }
    return node_ptr(n.p->next.load(n.loc), n.loc);
  }
  static void set_next(const node_ptr& n, const node_ptr& v) {
    if (!n.p) [[unlikely]] return null_link(n.loc);
    n.p->next.store(v.p, n.loc);
  }
};

// Value traits: element <-> entry through the member pointer.
template <class T, class E, E T::*F>
struct MemberValueTraits {
  using value_type = T;
  using node = E;
  static E* to_node(T* v) { return &(v->*F); }
  static T* to_value(E* n) { return boost::intrusive::get_parent_from_member<T, E>(n, F); }
  static const T* to_value(const E* n) { return boost::intrusive::get_parent_from_member<T, E>(n, F); }
};

// Calls fn(elm); a body returning bool stops the walk by returning false.
template <class Fn, class T>
bool call_body(Fn& fn, T* elm) {
  if constexpr (std::is_same_v<std::invoke_result_t<Fn&, T*>, void>) {
    fn(elm);
    return true;
  } else {
    return static_cast<bool>(fn(elm));
  }
}

// The part shared by TAILQ and LIST: a circular doubly linked list of E
// embedded in T at F, with `head_` as sentinel.
template <class T, class E, E T::*F>
class DoubleHead {
 public:
  using value_type = T;
  using entry_type = E;
  using node_traits = DoubleTraits<E>;
  using algorithms = boost::intrusive::circular_list_algorithms<node_traits>;
  using value_traits = MemberValueTraits<T, E, F>;

  DoubleHead() {
    head_.next.raw_set(&head_);
    head_.prev.raw_set(&head_);
  }
  DoubleHead(const DoubleHead&) = delete;
  DoubleHead& operator=(const DoubleHead&) = delete;

  // ---- introspection for checkers and tests: no scheduling points ----
  // The head's sentinel entry: next is the first element, prev the last.
  E& head_node() { return head_; }
  const E& head_node() const { return head_; }
  static E* node_of(T* elm) { return value_traits::to_node(elm); }
  static T* elem_of(E* n) { return value_traits::to_value(n); }
  static const T* elem_of(const E* n) { return value_traits::to_value(n); }

 protected:
  using R = Ref<E>;
  R href(SrcLoc loc) { return R(&head_, loc, &head_); }
  static R ref(T* elm, SrcLoc loc) { return R(node_of(elm), loc); }
  R mref(T* elm, SrcLoc loc) { return R(node_of(elm), loc, &head_); }  // knows the head
  // An element, or nullptr for the head (end of list) and for a NULL link.
  T* value_or_null(E* n) const { return (n == &head_ || n == nullptr) ? nullptr : elem_of(n); }

  void init_impl(const char* label, SrcLoc loc) {
    OpLabel l(label);
    algorithms::init_header(href(loc));
  }
  E* load_next(const E* n, const char* label, SrcLoc loc) const {
    OpLabel l(label);
    return n->next.load(loc, [n, this] { return link_op(n, &head_, false, true); });
  }
  E* load_prev(const E* n, const char* label, SrcLoc loc) const {
    OpLabel l(label);
    return n->prev.load(loc, [n, this] { return link_op(n, &head_, false, false); });
  }
  // Walks from the head along next (or prev), reading the following link
  // before calling the body. A NULL link is corruption in a circular list.
  template <bool kForward, class Fn>
  void foreach_impl(Fn& fn, const char* label, SrcLoc loc) {
    E* n = kForward ? load_next(&head_, label, loc) : load_prev(&head_, label, loc);
    while (n != &head_) {
      if (n == nullptr) [[unlikely]] {
        OpLabel l(label);
        null_link(loc);
        return;
      }
      E* following = kForward ? load_next(n, label, loc) : load_prev(n, label, loc);
      if (!call_body(fn, elem_of(n))) return;
      n = following;
    }
  }

  E head_;
};

}  // namespace list_detail

// TAILQ_HEAD(, T) whose elements are linked through T::*F.
template <class T, TailqEntry T::*F>
class TailqHead : public list_detail::DoubleHead<T, TailqEntry, F> {
  using Base = list_detail::DoubleHead<T, TailqEntry, F>;
  using Base::head_;
  using Base::href;
  using Base::ref;
  using Base::value_or_null;
  using typename Base::algorithms;
  using OpLabel = list_detail::OpLabel;

 public:
  TailqHead() = default;

  void init(SrcLoc loc = SrcLoc::current()) { this->init_impl("TAILQ_INIT", loc); }
  bool empty(SrcLoc loc = SrcLoc::current()) const {
    return this->load_next(&head_, "TAILQ_EMPTY", loc) == &head_;
  }
  T* first(SrcLoc loc = SrcLoc::current()) const {
    return value_or_null(this->load_next(&head_, "TAILQ_FIRST", loc));
  }
  T* last(SrcLoc loc = SrcLoc::current()) const {
    return value_or_null(this->load_prev(&head_, "TAILQ_LAST", loc));
  }
  // nullptr after the last element (and for an element whose link is NULL).
  T* next(T* elm, SrcLoc loc = SrcLoc::current()) const {
    return value_or_null(this->load_next(Base::node_of(elm), "TAILQ_NEXT", loc));
  }
  T* prev(T* elm, SrcLoc loc = SrcLoc::current()) const {
    return value_or_null(this->load_prev(Base::node_of(elm), "TAILQ_PREV", loc));
  }
  void insert_head(T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("TAILQ_INSERT_HEAD");
    algorithms::link_after(href(loc), this->mref(elm, loc));
  }
  void insert_tail(T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("TAILQ_INSERT_TAIL");
    algorithms::link_before(href(loc), this->mref(elm, loc));
  }
  void insert_after(T* listelm, T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("TAILQ_INSERT_AFTER");
    algorithms::link_after(this->mref(listelm, loc), this->mref(elm, loc));
  }
  // TAILQ_INSERT_BEFORE(listelm, elm, field): no head, as in FreeBSD.
  static void insert_before(T* listelm, T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("TAILQ_INSERT_BEFORE");
    algorithms::link_before(ref(listelm, loc), ref(elm, loc));
  }
  void remove(T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("TAILQ_REMOVE");
    algorithms::unlink(this->mref(elm, loc));
  }
  // TAILQ_CONCAT(this, other): appends other's elements, leaves other empty.
  void concat(TailqHead& other, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("TAILQ_CONCAT");
    typename Base::R o = other.href(loc);
    typename Base::R f = algorithms::node_traits::get_next(o);
    if (f == o) return;
    algorithms::transfer(href(loc), f, o);  // moves [first, other-head) before our head
  }
  // TAILQ_FOREACH_SAFE: fn(T*) -> void, or bool (false stops the walk).
  template <class Fn>
  void foreach(Fn&& fn, SrcLoc loc = SrcLoc::current()) {
    this->template foreach_impl<true>(fn, "TAILQ_FOREACH_SAFE", loc);
  }
  // TAILQ_FOREACH_REVERSE_SAFE.
  template <class Fn>
  void foreach_reverse(Fn&& fn, SrcLoc loc = SrcLoc::current()) {
    this->template foreach_impl<false>(fn, "TAILQ_FOREACH_REVERSE_SAFE", loc);
  }
};

// LIST_HEAD(, T) whose elements are linked through T::*F.
template <class T, ListEntry T::*F>
class ListHead : public list_detail::DoubleHead<T, ListEntry, F> {
  using Base = list_detail::DoubleHead<T, ListEntry, F>;
  using Base::head_;
  using Base::href;
  using Base::ref;
  using Base::value_or_null;
  using typename Base::algorithms;
  using OpLabel = list_detail::OpLabel;

 public:
  ListHead() = default;

  void init(SrcLoc loc = SrcLoc::current()) { this->init_impl("LIST_INIT", loc); }
  bool empty(SrcLoc loc = SrcLoc::current()) const {
    return this->load_next(&head_, "LIST_EMPTY", loc) == &head_;
  }
  T* first(SrcLoc loc = SrcLoc::current()) const {
    return value_or_null(this->load_next(&head_, "LIST_FIRST", loc));
  }
  // Needs the head (unlike LIST_NEXT) to recognise the end of the circle.
  T* next(T* elm, SrcLoc loc = SrcLoc::current()) const {
    return value_or_null(this->load_next(Base::node_of(elm), "LIST_NEXT", loc));
  }
  void insert_head(T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("LIST_INSERT_HEAD");
    algorithms::link_after(href(loc), this->mref(elm, loc));
  }
  static void insert_after(T* listelm, T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("LIST_INSERT_AFTER");
    algorithms::link_after(ref(listelm, loc), ref(elm, loc));
  }
  static void insert_before(T* listelm, T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("LIST_INSERT_BEFORE");
    algorithms::link_before(ref(listelm, loc), ref(elm, loc));
  }
  // LIST_REMOVE(elm, field): no head, as in FreeBSD.
  static void remove(T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("LIST_REMOVE");
    algorithms::unlink(ref(elm, loc));
  }
  // LIST_FOREACH_SAFE: fn(T*) -> void, or bool (false stops the walk).
  template <class Fn>
  void foreach(Fn&& fn, SrcLoc loc = SrcLoc::current()) {
    this->template foreach_impl<true>(fn, "LIST_FOREACH_SAFE", loc);
  }
};

// SLIST_HEAD(, T) whose elements are linked through T::*F.
template <class T, SlistEntry T::*F>
class SlistHead {
  using OpLabel = list_detail::OpLabel;
  using R = list_detail::Ref<SlistEntry>;

 public:
  using value_type = T;
  using entry_type = SlistEntry;
  using node_traits = list_detail::SingleTraits;
  using algorithms = boost::intrusive::linear_slist_algorithms<node_traits>;
  using value_traits = list_detail::MemberValueTraits<T, SlistEntry, F>;

  SlistHead() { head_.next.raw_set(nullptr); }
  SlistHead(const SlistHead&) = delete;
  SlistHead& operator=(const SlistHead&) = delete;

  void init(SrcLoc loc = SrcLoc::current()) {
    OpLabel l("SLIST_INIT");
    algorithms::init_header(R(&head_, loc));
  }
  bool empty(SrcLoc loc = SrcLoc::current()) const {
    OpLabel l("SLIST_EMPTY");
    return head_.next.load(loc) == nullptr;
  }
  T* first(SrcLoc loc = SrcLoc::current()) const {
    OpLabel l("SLIST_FIRST");
    return value_or_null(head_.next.load(loc));
  }
  static T* next(T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("SLIST_NEXT");
    return value_or_null(node_of(elm)->next.load(loc));
  }
  void insert_head(T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("SLIST_INSERT_HEAD");
    algorithms::link_after(R(&head_, loc), R(node_of(elm), loc));
  }
  static void insert_after(T* slistelm, T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("SLIST_INSERT_AFTER");
    algorithms::link_after(R(node_of(slistelm), loc), R(node_of(elm), loc));
  }
  void remove_head(SrcLoc loc = SrcLoc::current()) {
    OpLabel l("SLIST_REMOVE_HEAD");
    R h(&head_, loc);
    R first = node_traits::get_next(h);
    if (!first) [[unlikely]] return list_detail::not_on_list("SLIST_REMOVE_HEAD on an empty list", loc);
    algorithms::unlink_after(h, node_traits::get_next(first));
  }
  // SLIST_REMOVE_AFTER(elm, field): removes the element after elm.
  static void remove_after(T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("SLIST_REMOVE_AFTER");
    algorithms::unlink_after(R(node_of(elm), loc));
  }
  // SLIST_REMOVE(head, elm, type, field): O(n), walks from the head to the
  // element before elm. Not finding elm (NULL reached) is corruption.
  void remove(T* elm, SrcLoc loc = SrcLoc::current()) {
    OpLabel l("SLIST_REMOVE");
    R target(node_of(elm), loc);
    R prev(&head_, loc);
    for (;;) {
      R n = node_traits::get_next(prev);
      if (n == target) break;
      if (!n) [[unlikely]] return list_detail::not_on_list("SLIST_REMOVE: element not on the list", loc);
      prev = n;
    }
    algorithms::unlink_after(prev, node_traits::get_next(target));
  }
  // SLIST_FOREACH_SAFE: fn(T*) -> void, or bool (false stops the walk).
  template <class Fn>
  void foreach(Fn&& fn, SrcLoc loc = SrcLoc::current()) {
    SlistEntry* n = load_next(&head_, loc);
    while (n != nullptr) {
      SlistEntry* following = load_next(n, loc);
      if (!list_detail::call_body(fn, elem_of(n))) return;
      n = following;
    }
  }

  // ---- introspection for checkers and tests: no scheduling points ----
  // The head's entry: next is the first element.
  SlistEntry& head_node() { return head_; }
  const SlistEntry& head_node() const { return head_; }
  static SlistEntry* node_of(T* elm) { return value_traits::to_node(elm); }
  static T* elem_of(SlistEntry* n) { return value_traits::to_value(n); }
  static const T* elem_of(const SlistEntry* n) { return value_traits::to_value(n); }

 private:
  static T* value_or_null(SlistEntry* n) { return n == nullptr ? nullptr : elem_of(n); }
  static SlistEntry* load_next(const SlistEntry* n, SrcLoc loc) {
    OpLabel l("SLIST_FOREACH_SAFE");
    return n->next.load(loc);
  }

  SlistEntry head_;
};

}  // namespace kqsim::sim
