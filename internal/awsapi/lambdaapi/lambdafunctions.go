package lambdaapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/signet/signet/internal/awsapi"
	"github.com/signet/signet/internal/functions"
)

// functionOperations are the Lambda API's function operations.
func (l *Lambda) functionOperations() []awsapi.Operation {
	fnARN := func(r *http.Request) string {
		if name, err := l.Functions.FunctionName(r.PathValue("name")); err == nil {
			return l.Functions.ARN(name)
		}
		return r.PathValue("name")
	}
	// lambda:CodeSigningConfigArn, the key Lambda sets on the operations
	// that attach a code signing config.
	cscKey := func(arn string) map[string][]string {
		if arn == "" {
			return nil
		}
		return map[string][]string{"lambda:codesigningconfigarn": {arn}}
	}
	// Every operation authorizes the function's ARN however the request
	// names it (a name, a partial ARN or a full ARN).
	fnFromBody := func(_ *http.Request, in *createFunctionInput) string {
		if name, err := l.Functions.FunctionName(in.FunctionName); err == nil {
			return l.Functions.ARN(name)
		}
		return in.FunctionName
	}
	createFunction := func(pattern string) awsapi.Operation {
		return awsapi.Typed(awsapi.Operation{Name: "CreateFunction", Pattern: pattern, Action: "lambda:CreateFunction"}, awsapi.DecodeJSON,
			fnFromBody, func(in *createFunctionInput) map[string][]string { return cscKey(in.CodeSigningConfigArn) }, l.createFunction)
	}
	cscARN := func(r *http.Request) string {
		if id, err := l.CSCs.ID(r.PathValue("arn")); err == nil {
			return l.CSCs.ARN(id)
		}
		return r.PathValue("arn")
	}
	// A layer's operations act on the layer (arn:…:layer:NAME) or on one
	// version of it (arn:…:layer:NAME:VERSION).
	layerARN := func(r *http.Request) string {
		a := l.Functions.LayerARN(r.PathValue("layer"), 0)
		return a[:strings.LastIndex(a, ":")]
	}
	layerVersionARN := func(r *http.Request) string { return layerARN(r) + ":" + r.PathValue("version") }
	const base = "/2015-03-31/functions"
	return []awsapi.Operation{
		createFunction("POST " + base),
		createFunction("POST " + base + "/{$}"),
		{Name: "ListFunctions", Pattern: "GET " + base, Action: "lambda:ListFunctions", Resource: awsapi.AllResources, Handle: l.listFunctions},
		{Name: "ListFunctions", Pattern: "GET " + base + "/{$}", Action: "lambda:ListFunctions", Resource: awsapi.AllResources, Handle: l.listFunctions},
		{Name: "GetFunction", Pattern: "GET " + base + "/{name}", Action: "lambda:GetFunction", Resource: fnARN, Handle: l.getFunction},
		{Name: "GetFunctionConfiguration", Pattern: "GET " + base + "/{name}/configuration", Action: "lambda:GetFunctionConfiguration", Resource: fnARN, Handle: l.getFunctionConfiguration},
		{Name: "PublishLayerVersion", Pattern: "POST /2018-10-31/layers/{layer}/versions", Action: "lambda:PublishLayerVersion",
			Resource: layerARN, Handle: l.publishLayer},
		{Name: "GetLayerVersion", Pattern: "GET /2018-10-31/layers/{layer}/versions/{version}", Action: "lambda:GetLayerVersion",
			Resource: layerVersionARN, Handle: l.getLayer},
		{Name: "PublishVersion", Pattern: "POST " + base + "/{name}/versions", Action: "lambda:PublishVersion", Resource: fnARN, Handle: l.publishVersion},
		{Name: "UpdateFunctionConfiguration", Pattern: "PUT " + base + "/{name}/configuration", Action: "lambda:UpdateFunctionConfiguration", Resource: fnARN, Handle: l.updateFunctionConfiguration},
		{Name: "UpdateFunctionCode", Pattern: "PUT " + base + "/{name}/code", Action: "lambda:UpdateFunctionCode", Resource: fnARN, Handle: l.updateFunctionCode},
		{Name: "DeleteFunction", Pattern: "DELETE " + base + "/{name}", Action: "lambda:DeleteFunction", Resource: fnARN, Handle: l.deleteFunction},
		awsapi.Typed(awsapi.Operation{Name: "PutFunctionCodeSigningConfig", Pattern: "PUT /2020-06-30/functions/{name}/code-signing-config", Action: "lambda:PutFunctionCodeSigningConfig"}, awsapi.DecodeJSON,
			func(r *http.Request, _ *functionCSCInput) string { return fnARN(r) },
			func(in *functionCSCInput) map[string][]string { return cscKey(in.CodeSigningConfigArn) }, l.putFunctionCSC),
		{Name: "GetFunctionCodeSigningConfig", Pattern: "GET /2020-06-30/functions/{name}/code-signing-config", Action: "lambda:GetFunctionCodeSigningConfig", Resource: fnARN, Handle: l.getFunctionCSC},
		{Name: "DeleteFunctionCodeSigningConfig", Pattern: "DELETE /2020-06-30/functions/{name}/code-signing-config", Action: "lambda:DeleteFunctionCodeSigningConfig", Resource: fnARN, Handle: l.deleteFunctionCSC},
		{Name: "ListFunctionsByCodeSigningConfig", Pattern: "GET /2020-04-22/code-signing-configs/{arn}/functions", Action: "lambda:ListFunctionsByCodeSigningConfig", Resource: cscARN, Handle: l.listFunctionsByCSC},
	}
}

type functionConfigJSON struct {
	FunctionName             string           `json:"FunctionName"`
	FunctionArn              string           `json:"FunctionArn"`
	Runtime                  string           `json:"Runtime"`
	Role                     string           `json:"Role"`
	Handler                  string           `json:"Handler"`
	CodeSize                 int64            `json:"CodeSize"`
	Description              string           `json:"Description"`
	Timeout                  int              `json:"Timeout"`
	MemorySize               int              `json:"MemorySize"`
	LastModified             string           `json:"LastModified"`
	CodeSha256               string           `json:"CodeSha256"`
	Version                  string           `json:"Version"`
	Environment              *environmentJSON `json:"Environment,omitempty"`
	KMSKeyArn                string           `json:"KMSKeyArn,omitempty"`
	RevisionID               string           `json:"RevisionId"`
	State                    string           `json:"State"`
	LastUpdateStatus         string           `json:"LastUpdateStatus"`
	PackageType              string           `json:"PackageType"`
	Architectures            []string         `json:"Architectures"`
	SigningProfileVersionArn string           `json:"SigningProfileVersionArn,omitempty"`
	SigningJobArn            string           `json:"SigningJobArn,omitempty"`
	Layers                   []layerJSON      `json:"Layers,omitempty"`
}

type layerJSON struct {
	Arn                      string `json:"Arn"`
	CodeSize                 int64  `json:"CodeSize"`
	SigningProfileVersionArn string `json:"SigningProfileVersionArn,omitempty"`
	SigningJobArn            string `json:"SigningJobArn,omitempty"`
}

func (l *Lambda) functionJSON(r *http.Request, f functions.Function) functionConfigJSON {
	return l.versionJSON(r, f, "$LATEST")
}

// versionJSON renders $LATEST or a published version (whose ARN is
// qualified with its number).
func (l *Lambda) versionJSON(r *http.Request, f functions.Function, version string) functionConfigJSON {
	fnARN := l.Functions.ARN(f.Name)
	if version != "$LATEST" {
		fnARN += ":" + version
	}
	out := functionConfigJSON{
		FunctionName: f.Name, FunctionArn: fnARN, Runtime: f.Runtime, Role: f.Role, Handler: f.Handler,
		CodeSize: f.CodeSize, Description: f.Description, Timeout: f.Timeout, MemorySize: f.MemorySize,
		LastModified: f.LastModified.UTC().Format(lambdaTime), CodeSha256: f.CodeSHA256, Version: version,
		RevisionID: f.RevisionID, State: "Active", LastUpdateStatus: "Successful", PackageType: "Zip", Architectures: []string{"x86_64"},
		SigningProfileVersionArn: f.SigningProfileVersionARN, SigningJobArn: f.SigningJobARN,
	}
	for _, u := range f.Layers {
		out.Layers = append(out.Layers, layerJSON{u.ARN, u.CodeSize, u.SigningProfileVersionARN, u.SigningJobARN})
	}
	out.KMSKeyArn = f.KMSKeyARN
	switch {
	case f.EncryptedEnvironment != nil:
		out.Environment = l.encryptedEnvironment(r, f)
	case len(f.Environment) > 0:
		out.Environment = &environmentJSON{Variables: f.Environment}
	}
	return out
}

// environmentJSON is a function's Environment as Lambda answers it: the
// variables, or why they could not be decrypted.
type environmentJSON struct {
	Variables map[string]string `json:"Variables,omitempty"`
	Error     *struct {
		ErrorCode string `json:"ErrorCode"`
		Message   string `json:"Message"`
	} `json:"Error,omitempty"`
}

// encryptedEnvironment decrypts variables encrypted under a customer key
// for a caller allowed kms:Decrypt on it; any other caller gets Lambda's
// Environment.Error instead of values.
func (l *Lambda) encryptedEnvironment(r *http.Request, f functions.Function) *environmentJSON {
	fail := func(code, msg string) *environmentJSON {
		e := &environmentJSON{}
		e.Error = &struct {
			ErrorCode string `json:"ErrorCode"`
			Message   string `json:"Message"`
		}{code, msg}
		return e
	}
	if !awsapi.Allowed(l.Authorizer, r, f.KMSKeyARN, "kms:Decrypt") {
		return fail("AccessDeniedException", "Lambda was unable to decrypt the environment variables because KMS access was denied. Please check the function's KMS key settings. KMS Exception: AccessDeniedException KMS Message: the caller is not authorized to perform kms:Decrypt on "+f.KMSKeyARN)
	}
	env, err := l.Functions.Variables(r.Context(), f)
	if err != nil {
		code := ErrorCode(err)
		if code == "" {
			code = "KMSAccessDeniedException"
		}
		return fail(code, err.Error())
	}
	return &environmentJSON{Variables: env}
}

type codeJSON struct {
	ZipFile         []byte `json:"ZipFile"` // base64 in JSON
	S3Bucket        string `json:"S3Bucket"`
	S3Key           string `json:"S3Key"`
	S3ObjectVersion string `json:"S3ObjectVersion"`
}

// zip returns the package a request names, inline or from a bucket. The
// caller must be allowed to read the object (s3:GetObject, or
// s3:GetObjectVersion for a version), and an object that does not exist
// is answered as one the caller may not read, so that the answer tells
// nothing about buckets and keys the caller cannot see.
func (l *Lambda) zip(r *http.Request, c codeJSON) ([]byte, error) {
	if len(c.ZipFile) > 0 {
		return c.ZipFile, nil
	}
	if c.S3Bucket == "" || c.S3Key == "" {
		return nil, &awsapi.Error{Code: "InvalidParameterValueException", Status: 400, Message: "Code must name a ZipFile, or an S3Bucket and S3Key"}
	}
	if l.ReadObject == nil {
		return nil, &awsapi.Error{Code: "InvalidParameterValueException", Status: 400, Message: "this endpoint has no object store"}
	}
	action := "s3:GetObject"
	if c.S3ObjectVersion != "" {
		action = "s3:GetObjectVersion"
	}
	obj := "arn:aws:s3:::" + c.S3Bucket + "/" + c.S3Key
	unreadable := &awsapi.Error{Code: "InvalidParameterValueException", Status: 400, Message: fmt.Sprintf(
		"Error occurred while GetObject. S3 Error Code: AccessDenied. S3 Error Message: Access Denied (%s does not exist, or you are not allowed %s on it: check the bucket, key and version, and your policies)", obj, action)}
	if err := awsapi.AuthorizeAlso(l.Authorizer, r, obj, action); err != nil {
		if e := (*awsapi.Error)(nil); errors.As(err, &e) && e.Code == "AccessDeniedException" {
			return nil, unreadable
		}
		return nil, err
	}
	b, err := l.ReadObject(r.Context(), c.S3Bucket, c.S3Key, c.S3ObjectVersion, functions.MaxZipSize)
	switch {
	case errors.Is(err, ErrObjectNotFound):
		return nil, unreadable
	case err != nil:
		return nil, &awsapi.Error{Code: "InvalidParameterValueException", Status: 400, Message: "Error occurred while GetObject. S3 Error Code: " + err.Error()}
	}
	return b, nil
}

// ErrObjectNotFound is what ReadObject returns (wrapped) for a bucket,
// key or version that does not exist.
var ErrObjectNotFound = errors.New("no such object")

// authorizeRole requires iam:PassRole on the role a function is given,
// as Lambda does: a caller may not hand a function a role it could not
// pass itself.
func (l *Lambda) authorizeRole(r *http.Request, role string) error {
	if role == "" {
		return nil
	}
	return awsapi.AuthorizeAlso(l.Authorizer, r, role, "iam:PassRole")
}

// authorizeKey requires kms:Encrypt on the customer key a function's
// variables are to be encrypted under (the key policy as well as IAM).
func (l *Lambda) authorizeKey(r *http.Request, ref string) error {
	keyARN := ref
	if l.Functions.EnvKeys != nil {
		if a, err := l.Functions.EnvKeys.KeyARN(r.Context(), ref); err == nil {
			keyARN = a
		}
	}
	return awsapi.AuthorizeAlso(l.Authorizer, r, keyARN, "kms:Encrypt")
}

// authorizeLayers requires lambda:GetLayerVersion on every layer version
// a function is given.
func (l *Lambda) authorizeLayers(r *http.Request, layers []string) error {
	for _, a := range layers {
		if err := awsapi.AuthorizeAlso(l.Authorizer, r, a, "lambda:GetLayerVersion"); err != nil {
			return err
		}
	}
	return nil
}

// createFunctionInput is CreateFunction's request.
type createFunctionInput struct {
	FunctionName, Runtime, Role, Handler, Description string
	Timeout, MemorySize                               int
	Environment                                       *struct{ Variables map[string]string }
	Code                                              codeJSON
	CodeSigningConfigArn                              string
	Layers                                            []string
	Tags                                              map[string]string
	KMSKeyArn                                         string
}

func (l *Lambda) createFunction(w http.ResponseWriter, r *http.Request, req *createFunctionInput) error {
	if err := l.authorizeRole(r, req.Role); err != nil {
		return err
	}
	if err := l.authorizeLayers(r, req.Layers); err != nil {
		return err
	}
	zip, err := l.zip(r, req.Code)
	if err != nil {
		return err
	}
	in := functions.CreateInput{Zip: zip, CodeSigningConfigARN: req.CodeSigningConfigArn, LayerARNs: req.Layers}
	in.Name, in.Runtime, in.Role, in.Handler, in.Description = req.FunctionName, req.Runtime, req.Role, req.Handler, req.Description
	in.Timeout, in.MemorySize = req.Timeout, req.MemorySize
	if req.Environment != nil {
		in.Environment = req.Environment.Variables
	}
	if req.KMSKeyArn != "" {
		if err := l.authorizeKey(r, req.KMSKeyArn); err != nil {
			return err
		}
		in.KMSKeyARN = req.KMSKeyArn
	}
	in.Tags = req.Tags
	f, err := l.Functions.Create(r.Context(), in)
	if err != nil {
		return err
	}
	return awsapi.WriteJSONStatus(w, http.StatusCreated, l.functionJSON(r, f))
}

func (l *Lambda) getFunction(w http.ResponseWriter, r *http.Request) error {
	f, version, err := l.Functions.GetVersion(r.Context(), r.PathValue("name"), r.URL.Query().Get("Qualifier"))
	if err != nil {
		return err
	}
	type codeLocation struct {
		RepositoryType string `json:"RepositoryType"`
		Location       string `json:"Location,omitempty"`
	}
	loc := codeLocation{RepositoryType: "S3"}
	if l.CodeURL != nil {
		loc.Location = l.CodeURL(f.Name, f.CodeSHA256)
	}
	return awsapi.WriteJSON(w, struct {
		Configuration functionConfigJSON `json:"Configuration"`
		Code          codeLocation       `json:"Code"`
		Tags          map[string]string  `json:"Tags,omitempty"`
	}{l.versionJSON(r, f, version), loc, f.Tags})
}

func (l *Lambda) getFunctionConfiguration(w http.ResponseWriter, r *http.Request) error {
	f, version, err := l.Functions.GetVersion(r.Context(), r.PathValue("name"), r.URL.Query().Get("Qualifier"))
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, l.versionJSON(r, f, version))
}

func (l *Lambda) publishVersion(w http.ResponseWriter, r *http.Request) error {
	var req struct{ Description string }
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	f, n, err := l.Functions.PublishVersion(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return awsapi.WriteJSONStatus(w, http.StatusCreated, l.versionJSON(r, f, strconv.Itoa(n)))
}

func (l *Lambda) updateFunctionCode(w http.ResponseWriter, r *http.Request) error {
	var req codeJSON
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	zip, err := l.zip(r, req)
	if err != nil {
		return err
	}
	f, err := l.Functions.UpdateCode(r.Context(), r.PathValue("name"), zip)
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, l.functionJSON(r, f))
}

func (l *Lambda) deleteFunction(w http.ResponseWriter, r *http.Request) error {
	return awsapi.Empty(w, http.StatusNoContent, l.Functions.Delete(r.Context(), r.PathValue("name")))
}

func (l *Lambda) listFunctions(w http.ResponseWriter, r *http.Request) error {
	max := 0
	if v := r.URL.Query().Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return &awsapi.Error{Code: "InvalidParameterValueException", Status: 400, Message: "MaxItems must be an integer"}
		}
		max = n
	}
	fs, next, err := l.Functions.List(r.Context(), r.URL.Query().Get("Marker"), max)
	if err != nil {
		return err
	}
	resp := struct {
		Functions  []functionConfigJSON `json:"Functions"`
		NextMarker string               `json:"NextMarker,omitempty"`
	}{Functions: []functionConfigJSON{}, NextMarker: next}
	for _, f := range fs {
		resp.Functions = append(resp.Functions, l.functionJSON(r, f))
	}
	return awsapi.WriteJSON(w, resp)
}

type functionCSCJSON struct {
	CodeSigningConfigArn string `json:"CodeSigningConfigArn"`
	FunctionName         string `json:"FunctionName"`
}

// functionCSCInput is PutFunctionCodeSigningConfig's request.
type functionCSCInput struct{ CodeSigningConfigArn string }

func (l *Lambda) putFunctionCSC(w http.ResponseWriter, r *http.Request, req *functionCSCInput) error {
	name, err := l.Functions.PutCSC(r.Context(), r.PathValue("name"), req.CodeSigningConfigArn)
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, functionCSCJSON{req.CodeSigningConfigArn, name})
}

func (l *Lambda) getFunctionCSC(w http.ResponseWriter, r *http.Request) error {
	name, arn, err := l.Functions.CSC(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if arn == "" {
		return awsapi.WriteJSON(w, struct{}{}) // Lambda answers 200 with an empty body
	}
	return awsapi.WriteJSON(w, functionCSCJSON{arn, name})
}

func (l *Lambda) deleteFunctionCSC(w http.ResponseWriter, r *http.Request) error {
	return awsapi.Empty(w, http.StatusNoContent, l.Functions.DeleteCSC(r.Context(), r.PathValue("name")))
}

func (l *Lambda) listFunctionsByCSC(w http.ResponseWriter, r *http.Request) error {
	c, err := l.CSCs.CSC(r.Context(), r.PathValue("arn"))
	if err != nil {
		return err
	}
	names, err := l.Functions.Store.FunctionsByCSC(r.Context(), c.ID, r.URL.Query().Get("Marker"), 10000)
	if err != nil {
		return err
	}
	resp := struct {
		FunctionArns []string `json:"FunctionArns"`
	}{FunctionArns: []string{}}
	for _, n := range names {
		resp.FunctionArns = append(resp.FunctionArns, l.Functions.ARN(n))
	}
	return awsapi.WriteJSON(w, resp)
}

func (l *Lambda) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Runtime, Handler, Role, Description *string
		Timeout, MemorySize                 *int
		Environment                         *struct{ Variables map[string]string }
		Layers                              *[]string
		KMSKeyArn                           *string
	}
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.Role != nil {
		if err := l.authorizeRole(r, *req.Role); err != nil {
			return err
		}
	}
	if req.Layers != nil {
		if err := l.authorizeLayers(r, *req.Layers); err != nil {
			return err
		}
	}
	u := functions.ConfigUpdate{Runtime: req.Runtime, Handler: req.Handler, Role: req.Role, Description: req.Description, Timeout: req.Timeout, MemorySize: req.MemorySize}
	if req.Environment != nil {
		u.Environment = req.Environment.Variables
		if u.Environment == nil {
			u.Environment = map[string]string{}
		}
	}
	if req.Layers != nil {
		u.Layers = append([]string{}, (*req.Layers)...)
	}
	if req.KMSKeyArn != nil {
		if *req.KMSKeyArn != "" {
			if err := l.authorizeKey(r, *req.KMSKeyArn); err != nil {
				return err
			}
		}
		// Moving the variables to another key (or to none) without
		// giving them re-encrypts what the current key protects: the
		// caller must be allowed to decrypt them.
		if req.Environment == nil {
			cur, err := l.Functions.Get(r.Context(), r.PathValue("name"))
			if err != nil {
				return err
			}
			if cur.EncryptedEnvironment != nil {
				if err := awsapi.AuthorizeAlso(l.Authorizer, r, cur.KMSKeyARN, "kms:Decrypt"); err != nil {
					return err
				}
			}
		}
		u.KMSKeyARN = req.KMSKeyArn
	}
	f, err := l.Functions.UpdateConfiguration(r.Context(), r.PathValue("name"), u)
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, l.functionJSON(r, f))
}

type layerVersionJSON struct {
	Content struct {
		CodeSha256 string `json:"CodeSha256"`
		CodeSize   int64  `json:"CodeSize"`
	} `json:"Content"`
	LayerArn           string   `json:"LayerArn"`
	LayerVersionArn    string   `json:"LayerVersionArn"`
	Description        string   `json:"Description"`
	CreatedDate        string   `json:"CreatedDate"`
	Version            int      `json:"Version"`
	CompatibleRuntimes []string `json:"CompatibleRuntimes,omitempty"`
}

func (l *Lambda) layerJSON(v functions.LayerVersion) layerVersionJSON {
	var out layerVersionJSON
	out.Content.CodeSha256, out.Content.CodeSize = v.CodeSHA256, v.CodeSize
	arn := l.Functions.LayerARN(v.Name, v.Version)
	out.LayerVersionArn, out.LayerArn = arn, arn[:strings.LastIndex(arn, ":")]
	out.Description, out.CreatedDate, out.Version, out.CompatibleRuntimes = v.Description, v.CreatedAt.UTC().Format(lambdaTime), v.Version, v.Runtimes
	return out
}

func (l *Lambda) publishLayer(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Description        string
		Content            codeJSON
		CompatibleRuntimes []string
	}
	if err := awsapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	zip, err := l.zip(r, req.Content)
	if err != nil {
		return err
	}
	v, err := l.Functions.PublishLayer(r.Context(), r.PathValue("layer"), req.Description, req.CompatibleRuntimes, zip)
	if err != nil {
		return err
	}
	return awsapi.WriteJSONStatus(w, http.StatusCreated, l.layerJSON(v))
}

func (l *Lambda) getLayer(w http.ResponseWriter, r *http.Request) error {
	v, err := l.Functions.Layer(r.Context(), r.PathValue("layer"), r.PathValue("version"))
	if err != nil {
		return err
	}
	return awsapi.WriteJSON(w, l.layerJSON(v))
}
