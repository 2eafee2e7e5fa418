package server_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signer"
	"github.com/aws/aws-sdk-go-v2/service/signer/types"
	"github.com/aws/smithy-go"
	"github.com/signet/signet/internal/server/servertest"
)

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// TestSDKSignerOperations drives every Signer operation of this issue
// through the aws-sdk-go-v2 signer client.
func TestSDKSignerOperations(t *testing.T) {
	ts := servertest.Start(t)
	c := ts.Signer()
	ctx := context.Background()
	acct := ts.AccountID()

	// Platforms.
	lp, err := c.ListSigningPlatforms(ctx, &signer.ListSigningPlatformsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range lp.Platforms {
		ids = append(ids, aws.ToString(p.PlatformId))
	}
	if !slices.Equal(ids, []string{"AWSLambda-SHA384-ECDSA", "Notation-OCI-SHA384-ECDSA"}) {
		t.Errorf("platforms = %v", ids)
	}
	lp1, err := c.ListSigningPlatforms(ctx, &signer.ListSigningPlatformsInput{MaxResults: aws.Int32(1)})
	if err != nil || len(lp1.Platforms) != 1 || lp1.NextToken == nil {
		t.Fatalf("ListSigningPlatforms(max 1) = %+v, %v", lp1, err)
	}
	lp2, err := c.ListSigningPlatforms(ctx, &signer.ListSigningPlatformsInput{MaxResults: aws.Int32(1), NextToken: lp1.NextToken})
	if err != nil || len(lp2.Platforms) != 1 || lp2.NextToken != nil || aws.ToString(lp2.Platforms[0].PlatformId) != "Notation-OCI-SHA384-ECDSA" {
		t.Fatalf("ListSigningPlatforms page 2 = %+v, %v", lp2, err)
	}
	gp, err := c.GetSigningPlatform(ctx, &signer.GetSigningPlatformInput{PlatformId: aws.String("AWSLambda-SHA384-ECDSA")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(gp.DisplayName) != "AWS Lambda" || gp.MaxSizeInMB != 250 || !gp.RevocationSupported ||
		gp.SigningConfiguration.HashAlgorithmOptions.DefaultValue != types.HashAlgorithm("SHA384") ||
		gp.SigningImageFormat.DefaultFormat != types.ImageFormatJSONDetached {
		t.Errorf("GetSigningPlatform = %+v", gp)
	}
	if _, err := c.GetSigningPlatform(ctx, &signer.GetSigningPlatformInput{PlatformId: aws.String("Nope")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("GetSigningPlatform(Nope) = %v", err)
	}

	// Profiles.
	put, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{
		ProfileName:             aws.String("signing_profile_for_lambda"),
		PlatformId:              aws.String("AWSLambda-SHA384-ECDSA"),
		SignatureValidityPeriod: &types.SignatureValidityPeriod{Value: 135, Type: types.ValidityTypeMonths},
		Tags:                    map[string]string{"env": "dev"},
	})
	if err != nil {
		t.Fatal(err)
	}
	arnWant := fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-profiles/signing_profile_for_lambda", acct)
	if aws.ToString(put.Arn) != arnWant || !regexp.MustCompile(`^[a-zA-Z0-9]{10}$`).MatchString(aws.ToString(put.ProfileVersion)) ||
		aws.ToString(put.ProfileVersionArn) != arnWant+"/"+aws.ToString(put.ProfileVersion) {
		t.Fatalf("PutSigningProfile = %+v", put)
	}
	again, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{
		ProfileName: aws.String("signing_profile_for_lambda"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA"),
		SignatureValidityPeriod: &types.SignatureValidityPeriod{Value: 135, Type: types.ValidityTypeMonths},
	})
	if err != nil || aws.ToString(again.ProfileVersion) != aws.ToString(put.ProfileVersion) {
		t.Errorf("repeated identical Put = %+v, %v; want the same version", again, err)
	}
	get, err := c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("signing_profile_for_lambda")})
	if err != nil {
		t.Fatal(err)
	}
	if get.Status != types.SigningProfileStatusActive || aws.ToString(get.PlatformId) != "AWSLambda-SHA384-ECDSA" ||
		aws.ToString(get.PlatformDisplayName) != "AWS Lambda" || get.SignatureValidityPeriod.Value != 135 ||
		get.SignatureValidityPeriod.Type != types.ValidityTypeMonths || aws.ToString(get.ProfileVersion) != aws.ToString(put.ProfileVersion) ||
		aws.ToString(get.Arn) != arnWant || !maps.Equal(get.Tags, map[string]string{"env": "dev"}) {
		t.Errorf("GetSigningProfile = %+v", get)
	}
	// A changed configuration makes a new version.
	v2, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{
		ProfileName: aws.String("signing_profile_for_lambda"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA"),
		SignatureValidityPeriod: &types.SignatureValidityPeriod{Value: 30, Type: types.ValidityTypeDays},
	})
	if err != nil || aws.ToString(v2.ProfileVersion) == aws.ToString(put.ProfileVersion) {
		t.Fatalf("Put with a new validity = %+v, %v; want a new version", v2, err)
	}
	// Default validity is 135 months.
	if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("notation_images"), PlatformId: aws.String("Notation-OCI-SHA384-ECDSA")}); err != nil {
		t.Fatal(err)
	}
	if g, _ := c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("notation_images")}); g.SignatureValidityPeriod.Value != 135 || g.SignatureValidityPeriod.Type != types.ValidityTypeMonths {
		t.Errorf("default validity = %+v", g.SignatureValidityPeriod)
	}
	for i := range 30 {
		if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String(fmt.Sprintf("bulk_%02d", i)), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(in *signer.ListSigningProfilesInput) []string {
		t.Helper()
		var names []string
		pages := 0
		p := signer.NewListSigningProfilesPaginator(c, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, pr := range out.Profiles {
				names = append(names, aws.ToString(pr.ProfileName))
			}
		}
		if pages < 2 && len(names) > 25 {
			t.Errorf("%d profiles came in %d page(s)", len(names), pages)
		}
		return names
	}
	if got := list(&signer.ListSigningProfilesInput{}); len(got) != 32 {
		t.Errorf("ListSigningProfiles = %d profiles, want 32", len(got))
	}
	if got := list(&signer.ListSigningProfilesInput{PlatformId: aws.String("Notation-OCI-SHA384-ECDSA")}); !slices.Equal(got, []string{"notation_images"}) {
		t.Errorf("ListSigningProfiles(platform) = %v", got)
	}
	if _, err := c.CancelSigningProfile(ctx, &signer.CancelSigningProfileInput{ProfileName: aws.String("bulk_00")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CancelSigningProfile(ctx, &signer.CancelSigningProfileInput{ProfileName: aws.String("bulk_00")}); err != nil {
		t.Errorf("canceling twice = %v, want success", err)
	}
	if got := list(&signer.ListSigningProfilesInput{}); slices.Contains(got, "bulk_00") || len(got) != 31 {
		t.Errorf("a canceled profile is listed by default: %d profiles", len(got))
	}
	if got := list(&signer.ListSigningProfilesInput{IncludeCanceled: true}); !slices.Contains(got, "bulk_00") || len(got) != 32 {
		t.Errorf("includeCanceled: %d profiles", len(got))
	}
	if got := list(&signer.ListSigningProfilesInput{Statuses: []types.SigningProfileStatus{types.SigningProfileStatusCanceled}}); !slices.Equal(got, []string{"bulk_00"}) {
		t.Errorf("statuses=Canceled: %v", got)
	}
	if g, _ := c.GetSigningProfile(ctx, &signer.GetSigningProfileInput{ProfileName: aws.String("bulk_00")}); g.Status != types.SigningProfileStatusCanceled {
		t.Errorf("canceled profile status = %s", g.Status)
	}
	if _, err := c.PutSigningProfile(ctx, &signer.PutSigningProfileInput{ProfileName: aws.String("bulk_00"), PlatformId: aws.String("AWSLambda-SHA384-ECDSA")}); apiCode(err) != "ValidationException" {
		t.Errorf("reusing a canceled name = %v, want ValidationException", err)
	}
	if _, err := c.CancelSigningProfile(ctx, &signer.CancelSigningProfileInput{ProfileName: aws.String("nobody")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("cancel unknown = %v", err)
	}

	// Tags.
	if _, err := c.TagResource(ctx, &signer.TagResourceInput{ResourceArn: aws.String(arnWant), Tags: map[string]string{"team": "sec"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &signer.UntagResourceInput{ResourceArn: aws.String(arnWant), TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsForResource(ctx, &signer.ListTagsForResourceInput{ResourceArn: aws.String(arnWant)})
	if err != nil || !maps.Equal(tags.Tags, map[string]string{"team": "sec"}) {
		t.Errorf("ListTagsForResource = %+v, %v", tags, err)
	}
	canceledARN := fmt.Sprintf("arn:aws:signer:us-east-1:%s:/signing-profiles/bulk_00", acct)
	if _, err := c.TagResource(ctx, &signer.TagResourceInput{ResourceArn: aws.String(canceledARN), Tags: map[string]string{"a": "b"}}); apiCode(err) != "BadRequestException" {
		t.Errorf("tagging a canceled profile = %v, want BadRequestException", err)
	}
	if _, err := c.ListTagsForResource(ctx, &signer.ListTagsForResourceInput{ResourceArn: aws.String(arnWant + "x")}); apiCode(err) != "NotFoundException" {
		t.Errorf("tags of an unknown profile = %v, want NotFoundException", err)
	}
	if _, err := c.TagResource(ctx, &signer.TagResourceInput{ResourceArn: aws.String(arnWant), Tags: map[string]string{"aws:x": "b"}}); apiCode(err) != "BadRequestException" {
		t.Errorf("reserved tag key = %v, want BadRequestException", err)
	}

	// Permissions.
	add, err := c.AddProfilePermission(ctx, &signer.AddProfilePermissionInput{
		ProfileName: aws.String("signing_profile_for_lambda"), Action: aws.String("signer:StartSigningJob"),
		Principal: aws.String("111122223333"), StatementId: aws.String("ci"),
	})
	if err != nil || aws.ToString(add.RevisionId) == "" {
		t.Fatalf("AddProfilePermission = %+v, %v", add, err)
	}
	if _, err := c.AddProfilePermission(ctx, &signer.AddProfilePermissionInput{
		ProfileName: aws.String("signing_profile_for_lambda"), Action: aws.String("signer:GetSigningProfile"),
		Principal: aws.String("111122223333"), StatementId: aws.String("ci"),
	}); apiCode(err) != "ConflictException" {
		t.Errorf("duplicate statement = %v, want ConflictException", err)
	}
	if _, err := c.AddProfilePermission(ctx, &signer.AddProfilePermissionInput{
		ProfileName: aws.String("signing_profile_for_lambda"), Action: aws.String("signer:GetSigningProfile"),
		Principal: aws.String("111122223333"), StatementId: aws.String("read"), RevisionId: aws.String("stale"),
	}); apiCode(err) != "ConflictException" {
		t.Errorf("stale revision = %v, want ConflictException", err)
	}
	if _, err := c.AddProfilePermission(ctx, &signer.AddProfilePermissionInput{
		ProfileName: aws.String("signing_profile_for_lambda"), Action: aws.String("signer:SignPayload"),
		Principal: aws.String("111122223333"), StatementId: aws.String("img"),
	}); apiCode(err) != "ValidationException" {
		t.Errorf("SignPayload on a Lambda profile = %v, want ValidationException", err)
	}
	lperm, err := c.ListProfilePermissions(ctx, &signer.ListProfilePermissionsInput{ProfileName: aws.String("signing_profile_for_lambda")})
	if err != nil || aws.ToString(lperm.RevisionId) != aws.ToString(add.RevisionId) || len(lperm.Permissions) != 1 || lperm.PolicySizeBytes <= 0 ||
		aws.ToString(lperm.Permissions[0].StatementId) != "ci" || aws.ToString(lperm.Permissions[0].Principal) != "111122223333" {
		t.Errorf("ListProfilePermissions = %+v, %v", lperm, err)
	}
	if _, err := c.RemoveProfilePermission(ctx, &signer.RemoveProfilePermissionInput{ProfileName: aws.String("signing_profile_for_lambda"), StatementId: aws.String("ci"), RevisionId: aws.String("stale")}); apiCode(err) != "ConflictException" {
		t.Errorf("remove with a stale revision = %v, want ConflictException", err)
	}
	rm, err := c.RemoveProfilePermission(ctx, &signer.RemoveProfilePermissionInput{ProfileName: aws.String("signing_profile_for_lambda"), StatementId: aws.String("ci"), RevisionId: add.RevisionId})
	if err != nil || aws.ToString(rm.RevisionId) == "" || aws.ToString(rm.RevisionId) == aws.ToString(add.RevisionId) {
		t.Errorf("RemoveProfilePermission = %+v, %v", rm, err)
	}
	if _, err := c.RemoveProfilePermission(ctx, &signer.RemoveProfilePermissionInput{ProfileName: aws.String("signing_profile_for_lambda"), StatementId: aws.String("ci"), RevisionId: rm.RevisionId}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("removing a removed statement = %v, want ResourceNotFoundException", err)
	}
}
