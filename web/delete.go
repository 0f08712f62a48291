package web

import "github.com/gofiber/fiber/v2"

// deleteItem deletes one of owner's items and then its media.
func (s *Server) deleteItem(c *fiber.Ctx, owner, id int64) error {
	_, err := s.Content.DeleteItem(c.UserContext(), owner, id)
	return err
}
