package invoke

// Notify wakes an Event worker, as InvokeAsync does after queueing.
func (s *Service) Notify() { s.notify() }
