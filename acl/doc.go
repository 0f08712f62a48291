// Package acl decides who may see what: principals (members, groups, guest
// tokens), ACL entries, the decision, token secrets, passwords and sealed
// values. It imports nothing of content or web.
//
// Everything here is pure computation so that the rules can be tested
// exhaustively without a database: callers load an item's ACL and a
// viewer's identity, and ask MayView (or Decide when the reason must be
// audited). Secrets, passwords and sealed values live beside the decision
// because they are how an identity comes to exist in the first place.
package acl
