package acl

import "hubshare/app"

// Permissions are what a guest token lets its guests do with the items it
// opens, beyond seeing them. A new permission is a column of guest_tokens
// (a migration), a field here with its name in PermissionNames, and the views
// that show it; token edits, the guest view and the API go through this type.
//
// The bun tags are the guest_tokens columns; the JSON tags are the API's
// token fields, and the same names are the token forms' fields.
type Permissions struct {
	// Download lets a guest download originals (stripped of metadata unless
	// Metadata is set too).
	Download bool `bun:"can_download" json:"can_download"`
	// Metadata shows a photo's metadata (time, camera, place).
	Metadata bool `bun:"show_metadata" json:"show_metadata"`
	// Comment lets a guest comment on the items the token opens.
	Comment bool `bun:"can_comment" json:"can_comment"`
}

// PermissionNames are the permissions' names, in the order pages show them:
// each is a guest_tokens column, a token form field and an API field.
var PermissionNames = []string{"can_download", "show_metadata", "can_comment"}

// Union is what a guest holding tokens with p and q may do: a browser
// session holding several tokens that open an item gets every permission
// any of them grants. The guest view computes the same union in SQL.
func (p Permissions) Union(q Permissions) Permissions {
	return Permissions{Download: p.Download || q.Download, Metadata: p.Metadata || q.Metadata, Comment: p.Comment || q.Comment}
}

// field is the permission of that name, or nil.
func (p *Permissions) field(name string) *bool {
	switch name {
	case "can_download":
		return &p.Download
	case "show_metadata":
		return &p.Metadata
	case "can_comment":
		return &p.Comment
	}
	return nil
}

// Has reports whether the permission of that name is granted.
func (p Permissions) Has(name string) bool {
	f := p.field(name)
	return f != nil && *f
}

// PermissionsEdit sets some permissions, by name; the others stay as they are.
type PermissionsEdit map[string]bool

// Set records a change to the permission of that name.
func (e PermissionsEdit) Set(name string, on bool) error {
	if (&Permissions{}).field(name) == nil {
		return app.Errorf(app.EInvalid, "%s is not a token permission.", name)
	}
	e[name] = on
	return nil
}

// Apply writes the edit into p.
func (e PermissionsEdit) Apply(p *Permissions) {
	for name, on := range e {
		if f := p.field(name); f != nil {
			*f = on
		}
	}
}
