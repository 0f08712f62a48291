package web

import (
	"io/fs"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
)

// routes declares every route in one place. Middleware is attached per
// route (or per distinct prefix), never through a shared empty prefix, so
// that public routes do not inherit owner-only middleware.
func (s *Server) routes() {
	a := s.app
	a.Use(closeStreamedBodies, s.recoverPanics, requestIDs, s.accessLog, s.securityHeaders)

	static, _ := fs.Sub(staticFS, "static")
	a.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(static), MaxAge: int((24 * time.Hour).Seconds())}))
	a.Get("/healthz", s.healthz)

	// Pages with forms: session, then CSRF on unsafe methods.
	page := []fiber.Handler{limitSmallBody, noStore, s.loadMember, s.checkCSRF}
	owner := append(page[:len(page):len(page)], s.requireMember)
	with := func(chain []fiber.Handler, h fiber.Handler) []fiber.Handler {
		return append(chain[:len(chain):len(chain)], h)
	}

	// "/" is the member's home, or while the hub has no member the form
	// that creates the first one.
	a.Get("/", with(page, s.start)...)
	a.Post("/setup", with(page, s.setupForm)...)
	a.Get("/login", with(page, s.loginPage)...)
	a.Post("/login", with(page, s.login)...)
	a.Post("/logout", with(page, s.logout)...)
	// The owner pages: session, CSRF on unsafe methods, sign-in required.
	a.Post("/posts", with(owner, s.createPostForm)...)
	a.Post("/albums", with(owner, s.createAlbumForm)...)
	a.Post("/items/:id/edit", with(owner, s.editItemForm)...)
	a.Post("/items/:id/album", with(owner, s.moveItemForm)...)
	a.Post("/items/:id/cover", with(owner, s.coverForm)...)
	a.Get("/items/:id/delete", with(owner, s.deleteConfirmPage)...)
	a.Post("/items/:id/delete", with(owner, s.deleteItemForm)...)
	a.Post("/comments/:id/hide", with(owner, s.hideCommentForm)...)
	a.Post("/comments/:id/delete", with(owner, s.deleteCommentForm)...)

	a.Get("/items/:id/share", with(owner, s.sharePage)...)
	a.Post("/items/:id/share/public", with(owner, s.setPublicForm)...)
	a.Post("/items/:id/share/add", with(owner, s.grantForm)...)
	a.Post("/items/:id/share/remove", with(owner, s.ungrantForm)...)
	a.Post("/items/:id/share/link", with(owner, s.shareLinkForm)...)
	a.Post("/items/:id/share/showlink", with(owner, s.showItemLinkForm)...)

	a.Get("/settings/tokens", with(owner, s.tokensPage)...)
	a.Post("/settings/tokens", with(owner, s.createTokenForm)...)
	// Registered before /settings/tokens/:id, which would take it for an id.
	a.Get("/settings/tokens/bulk", with(owner, s.bulkPreviewPage)...)
	a.Post("/settings/tokens/bulk", with(owner, s.bulkForm)...)
	a.Get("/settings/tokens/revoke-flagged", with(owner, s.flaggedPage)...)
	a.Post("/settings/tokens/revoke-flagged", with(owner, s.revokeFlaggedForm)...)
	a.Get("/settings/tokens/:id", with(owner, s.tokenPage)...)
	a.Post("/settings/tokens/:id", with(owner, s.updateTokenForm)...)
	a.Post("/settings/tokens/:id/revoke", with(owner, s.revokeTokenForm)...)
	a.Post("/settings/tokens/:id/extend", with(owner, s.extendTokenForm)...)
	a.Post("/settings/tokens/:id/rotate", with(owner, s.rotateTokenForm)...)
	a.Post("/settings/tokens/:id/showlink", with(owner, s.showTokenLinkForm)...)
	a.Post("/settings/tokens/:id/ungrant", with(owner, s.ungrantTokenForm)...)
	// View as this token: the guest handlers, with the token as the viewer.
	preview := append(owner[:len(owner):len(owner)], s.previewGate)
	a.Get("/settings/tokens/:token/preview", with(preview, s.sharedPage)...)
	a.Get("/settings/tokens/:token/preview/items/:id", with(preview, s.itemPage)...)
	a.Get("/settings/tokens/:token/preview/items/:id/download", with(preview, s.albumDownload)...)
	a.Get("/settings/tokens/:token/preview/media/:id/:variant", with(preview, s.mediaFile)...)

	a.Get("/settings/groups", with(owner, s.groupsPage)...)
	a.Post("/settings/groups", with(owner, s.createGroupForm)...)
	a.Post("/settings/groups/:id/rename", with(owner, s.renameGroupForm)...)
	a.Post("/settings/groups/:id/delete", with(owner, s.deleteGroupForm)...)
	a.Post("/settings/groups/:id/add", with(owner, s.addGroupMemberForm)...)
	a.Post("/settings/groups/:id/remove", with(owner, s.removeGroupMemberForm)...)

	// Guest-visible pages: the zat exchange and the viewer, no CSRF cookie.
	guest := []fiber.Handler{limitSmallBody, s.loadMember, s.guestGate}
	a.Get("/items/:id", with(guest, s.itemPage)...)
	a.Get("/shared", with(guest, s.sharedPage)...)
	a.Get("/media/:id/:variant", with(guest, s.mediaFile)...)
	a.Get("/items/:id/download", with(guest, s.albumDownload)...)
	// A guest's comment: the guest session from its cookie, and CSRF.
	a.Post("/items/:id/comments", limitSmallBody, noStore, s.loadMember, s.checkCSRF, s.guestSession, s.commentFormPost)
	// Uploads stream their body: no small-body limit; the CSRF token comes
	// from the header or from a part before the files (readUpload).
	a.Post("/upload", noStore, s.loadMember, s.requireMember, s.checkStreamedCSRF, s.uploadForm)
	a.Post("/open", with(page, s.openLink)...)

	a.Get("/notifications", with(owner, s.notificationsPage)...)
	a.Post("/notifications/read", with(owner, s.markNotificationsReadForm)...)

	a.Get("/settings/apitokens", with(owner, s.apiTokensPage)...)
	a.Post("/settings/apitokens", with(owner, s.createAPITokenForm)...)
	a.Post("/settings/apitokens/:id/revoke", with(owner, s.revokeAPITokenForm)...)

	// JSON API: personal API tokens from Authorization only; no cookies, no CSRF.
	a.Get("/api/v1/openapi.json", s.apiOpenAPI)
	api := a.Group("/api/v1")
	apiRoute := func(method, path string, h fiber.Handler) {
		api.Add(method, path, limitSmallBody, s.apiAuth, h)
	}
	apiRoute(fiber.MethodGet, "/me", s.apiMe)
	apiRoute(fiber.MethodPatch, "/me", s.apiUpdateMe)
	apiRoute(fiber.MethodGet, "/notifications", s.apiNotifications)
	apiRoute(fiber.MethodPost, "/notifications/read", s.apiMarkNotificationsRead)
	apiRoute(fiber.MethodGet, "/apitokens", s.apiListAPITokens)
	apiRoute(fiber.MethodDelete, "/apitokens/:id", s.apiRevokeAPIToken)
	apiRoute(fiber.MethodGet, "/members", s.apiListMembers)
	apiRoute(fiber.MethodPost, "/posts", s.apiCreatePost)
	apiRoute(fiber.MethodPost, "/albums", s.apiCreateAlbum)
	// Uploads stream: authentication first, then the per-route limit while reading.
	api.Post("/photos", s.apiAuth, s.apiUploadPhoto)
	apiRoute(fiber.MethodGet, "/items", s.apiListItems)
	apiRoute(fiber.MethodGet, "/items/:id", s.apiGetItem)
	apiRoute(fiber.MethodPatch, "/items/:id", s.apiUpdateItem)
	apiRoute(fiber.MethodDelete, "/items/:id", s.apiDeleteItem)
	apiRoute(fiber.MethodGet, "/items/:id/acl", s.apiGetACL)
	apiRoute(fiber.MethodPut, "/items/:id/acl", s.apiPutACL)
	apiRoute(fiber.MethodPost, "/items/:id/share", s.apiShareItem)
	apiRoute(fiber.MethodGet, "/items/:id/access", s.apiItemAccess)
	apiRoute(fiber.MethodGet, "/items/:id/comments", s.apiItemComments)
	apiRoute(fiber.MethodPatch, "/comments/:id", s.apiPatchComment)
	apiRoute(fiber.MethodDelete, "/comments/:id", s.apiDeleteComment)
	apiRoute(fiber.MethodGet, "/items/:id/audience", s.apiItemAudience)
	apiRoute(fiber.MethodPost, "/tokens", s.apiCreateToken)
	apiRoute(fiber.MethodPost, "/tokens/bulk", s.apiBulkTokens)
	apiRoute(fiber.MethodGet, "/tokens", s.apiListTokens)
	apiRoute(fiber.MethodGet, "/tokens/:id", s.apiGetToken)
	apiRoute(fiber.MethodPatch, "/tokens/:id", s.apiUpdateToken)
	apiRoute(fiber.MethodDelete, "/tokens/:id", s.apiRevokeToken)
	apiRoute(fiber.MethodGet, "/tokens/:id/link", s.apiTokenLink)
	apiRoute(fiber.MethodGet, "/tokens/:id/grants", s.apiTokenGrants)
	apiRoute(fiber.MethodPost, "/tokens/:id/rotate", s.apiRotateToken)
	apiRoute(fiber.MethodPost, "/groups", s.apiCreateGroup)
	apiRoute(fiber.MethodGet, "/groups", s.apiListGroups)
	apiRoute(fiber.MethodGet, "/groups/:id", s.apiGetGroup)
	apiRoute(fiber.MethodPatch, "/groups/:id", s.apiRenameGroup)
	apiRoute(fiber.MethodDelete, "/groups/:id", s.apiDeleteGroup)
	apiRoute(fiber.MethodPut, "/groups/:id/members", s.apiSetGroupMembers)

	a.Use(unmatched)
}
