package signing

// Platform is a signing platform as ListSigningPlatforms describes it.
type Platform struct {
	ID                   string
	DisplayName          string
	Partner              string
	Target               string
	Category             string
	EncryptionAlgorithms []string // first is the default
	HashAlgorithms       []string // first is the default
	ImageFormats         []string // first is the default
	MaxSizeInMB          int
	RevocationSupported  bool
}

// Platform identifiers.
const (
	PlatformLambda   = "AWSLambda-SHA384-ECDSA"
	PlatformNotation = "Notation-OCI-SHA384-ECDSA"
)

// Platforms lists the platforms Signet signs for, in listing order.
var Platforms = []Platform{
	{
		ID:                   PlatformLambda,
		DisplayName:          "AWS Lambda",
		Partner:              "AWSLambda",
		Target:               "SHA384-ECDSA",
		Category:             "AWS",
		EncryptionAlgorithms: []string{"ECDSA"},
		HashAlgorithms:       []string{"SHA384"},
		ImageFormats:         []string{"JSONDetached"},
		MaxSizeInMB:          250,
		RevocationSupported:  true,
	},
	{
		ID:                   PlatformNotation,
		DisplayName:          "Notation for container registries",
		Partner:              "AWSSigner",
		Target:               "SHA384-ECDSA",
		Category:             "AWS",
		EncryptionAlgorithms: []string{"ECDSA"},
		HashAlgorithms:       []string{"SHA384"},
		ImageFormats:         []string{"JSONEmbedded"},
		MaxSizeInMB:          1,
		RevocationSupported:  true,
	},
}

// PlatformByID returns the platform with the given id. Ids are
// case-sensitive, as in AWS.
func PlatformByID(id string) (Platform, bool) {
	for _, p := range Platforms {
		if p.ID == id {
			return p, true
		}
	}
	return Platform{}, false
}

func platformIDs() []string {
	ids := make([]string, len(Platforms))
	for i, p := range Platforms {
		ids[i] = p.ID
	}
	return ids
}
