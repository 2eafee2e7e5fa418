package signing

import (
	"context"
	"errors"
	"fmt"
	"maps"
)

// profileFromARN resolves a tagging resource ARN to a profile name. Only
// signing profile ARNs (without a version) can be tagged.
func (s *Service) profileFromARN(resourceARN string) (string, error) {
	name, version, err := s.Account.SigningProfile(resourceARN)
	if err != nil {
		return "", newError(ErrNotFound, fmt.Sprintf("resource %s not found: tags apply to signing profile ARNs of this account (arn:%s:signer:%s:%s:/signing-profiles/NAME)", resourceARN, s.Account.Partition, s.Account.Region, s.Account.ID))
	}
	if version != "" {
		return "", newError(ErrNotFound, fmt.Sprintf("resource %s not found: tags apply to the signing profile ARN without its version (%s)", resourceARN, s.Account.ProfileARN(name)))
	}
	return name, nil
}

// Tags returns the tags of the resource.
func (s *Service) Tags(ctx context.Context, resourceARN string) (map[string]string, error) {
	name, err := s.profileFromARN(resourceARN)
	if err != nil {
		return nil, err
	}
	p, err := s.Store.Profile(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, newError(ErrNotFound, fmt.Sprintf("resource %s not found", resourceARN))
	}
	if err != nil {
		return nil, err
	}
	return p.Tags, nil
}

// TagResource adds or replaces tags. Tagging a canceled profile is refused
// with ErrCanceled.
func (s *Service) TagResource(ctx context.Context, resourceARN string, tags map[string]string) error {
	if len(tags) == 0 {
		return newError(ErrInvalid, "tags must contain at least one tag")
	}
	if err := ValidateTags(tags); err != nil {
		return err
	}
	return s.updateTags(ctx, resourceARN, func(t map[string]string) { maps.Copy(t, tags) })
}

// UntagResource removes tags by key; absent keys are ignored.
func (s *Service) UntagResource(ctx context.Context, resourceARN string, keys []string) error {
	if len(keys) == 0 {
		return newError(ErrInvalid, "tagKeys must name at least one tag key")
	}
	for _, k := range keys {
		if err := ValidateTagKey("tagKeys", k); err != nil {
			return err
		}
	}
	return s.updateTags(ctx, resourceARN, func(t map[string]string) {
		for _, k := range keys {
			delete(t, k)
		}
	})
}

func (s *Service) updateTags(ctx context.Context, resourceARN string, change func(map[string]string)) error {
	name, err := s.profileFromARN(resourceARN)
	if err != nil {
		return err
	}
	err = s.Store.UpdateProfile(ctx, name, func(p *Profile) error {
		if p.Status == StatusCanceled {
			return newError(ErrCanceled, fmt.Sprintf("signing profile %s is canceled; its tags cannot change", name))
		}
		if p.Tags == nil {
			p.Tags = map[string]string{}
		}
		change(p.Tags)
		if len(p.Tags) > MaxTags {
			return newError(ErrInvalid, fmt.Sprintf("resource %s would carry %d tags; the limit is %d", resourceARN, len(p.Tags), MaxTags))
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return newError(ErrNotFound, fmt.Sprintf("resource %s not found", resourceARN))
	}
	return err
}
