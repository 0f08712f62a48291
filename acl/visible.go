package acl

import "strings"

// VisibleSQL returns an SQL condition, true when the principal (an SQL
// expression: a column, or a positional placeholder such as ?0) may see the
// item aliased itemAlias through its ACL: no deny entry matches the
// principal or a group holding it, and the item is public, an allow entry
// matches, or it is a photo whose album is visible by the same rule (the
// photo's own deny still wins). Ownership is the caller's part: owners see
// their items, and a token only ever opens its owner's items.
//
// It is the database form of Decide; a property test holds the two equal.
// Only code-chosen aliases are spliced in, never values.
func VisibleSQL(itemAlias, principal string) string {
	return strings.NewReplacer("{i}", itemAlias, "{p}", principal).Replace(visibleTemplate)
}

// PublicSQL returns an SQL condition, true when the item aliased itemAlias
// is visible to anyone at all, signed in or not, with or without a token: it
// is public, or a photo of a public album. It is VisibleSQL for a principal
// that no entry names, so the rule is stated once.
func PublicSQL(itemAlias string) string { return VisibleSQL(itemAlias, "0") }

// DeniedSQL returns an SQL condition, true when a deny entry of the item
// matches the principal directly or through a group holding it: the part of
// the rule that a photo's own list keeps even when its album is visible.
func DeniedSQL(itemAlias, principal string) string {
	return strings.NewReplacer("{i}", itemAlias, "{p}", principal).Replace(deniedTemplate)
}

var deniedTemplate = "EXISTS (SELECT 1 FROM acl_entries AS vd WHERE vd.item_id = {i}.id AND vd.deny AND " +
	strings.ReplaceAll(matchTemplate, "%[1]s", "vd") + ")"

// matchTemplate matches an entry naming the principal or a group holding
// it. The group is probed by key for the entry at hand: a list of the
// principal's groups (IN) would be built anew for every entry list it is
// compared with.
const matchTemplate = `(%[1]s.principal_id = {p} OR EXISTS (SELECT 1 FROM group_members AS gm WHERE gm.group_id = %[1]s.principal_id AND gm.principal_id = {p}))`

var visibleTemplate = strings.NewReplacer(
	"{match va}", strings.ReplaceAll(matchTemplate, "%[1]s", "va"),
	"{match vad}", strings.ReplaceAll(matchTemplate, "%[1]s", "vad"),
	"{match vaa}", strings.ReplaceAll(matchTemplate, "%[1]s", "vaa"),
).Replace(`(NOT ` + deniedTemplate + `
AND ({i}.public
  OR EXISTS (SELECT 1 FROM acl_entries AS va WHERE va.item_id = {i}.id AND NOT va.deny AND {match va})
  OR ({i}.album_id IS NOT NULL AND EXISTS (SELECT 1 FROM items AS val WHERE val.id = {i}.album_id AND val.owner_id = {i}.owner_id
    AND NOT EXISTS (SELECT 1 FROM acl_entries AS vad WHERE vad.item_id = val.id AND vad.deny AND {match vad})
    AND (val.public OR EXISTS (SELECT 1 FROM acl_entries AS vaa WHERE vaa.item_id = val.id AND NOT vaa.deny AND {match vaa}))))))`)
