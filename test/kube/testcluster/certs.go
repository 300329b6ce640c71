package testcluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the files the API server is started with, all under one folder.
type pki struct {
	caCert, caKey           string
	servingCert, servingKey string
	// kubeletClientCert is what the API server presents to kubelets.
	kubeletClientCert, kubeletClientKey string
	// saKey signs service account tokens; saPub checks them.
	saKey, saPub string
	// tokens is the --token-auth-file.
	tokens string
}

// Users of the token file. The admin is a superuser through its group; the
// limited user has no group and no binding, so RBAC denies it everything
// but discovery.
const (
	adminUser   = "admin"
	limitedUser = "limited"
)

// writePKI makes a CA, the certificates signed by it and the service account
// key in dir, and a token file with the two tokens.
func writePKI(dir, adminToken, limitedToken string) (pki, error) {
	p := pki{
		caCert:            filepath.Join(dir, "ca.crt"),
		caKey:             filepath.Join(dir, "ca.key"),
		servingCert:       filepath.Join(dir, "apiserver.crt"),
		servingKey:        filepath.Join(dir, "apiserver.key"),
		kubeletClientCert: filepath.Join(dir, "apiserver-kubelet-client.crt"),
		kubeletClientKey:  filepath.Join(dir, "apiserver-kubelet-client.key"),
		saKey:             filepath.Join(dir, "sa.key"),
		saPub:             filepath.Join(dir, "sa.pub"),
		tokens:            filepath.Join(dir, "tokens.csv"),
	}

	// The certificates need only outlive one test run; starting an hour
	// back keeps a clock a little behind from rejecting them.
	notBefore := time.Now().Add(-time.Hour)
	notAfter := notBefore.Add(48 * time.Hour)

	caKey, err := newKey()
	if err != nil {
		return pki{}, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "parallax-testcluster-ca"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caCert, err := sign(caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return pki{}, err
	}

	leaves := []struct {
		cert, key string
		tmpl      *x509.Certificate
	}{
		{p.servingCert, p.servingKey, &x509.Certificate{
			Subject:     pkix.Name{CommonName: "kube-apiserver"},
			DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}},
		// The name and group kubeadm gives this certificate, so a fake
		// kubelet that authorizes its caller sees what a real one would.
		{p.kubeletClientCert, p.kubeletClientKey, &x509.Certificate{
			Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}},
	}
	for _, l := range leaves {
		key, err := newKey()
		if err != nil {
			return pki{}, err
		}
		l.tmpl.NotBefore, l.tmpl.NotAfter = notBefore, notAfter
		l.tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		cert, err := sign(l.tmpl, caCert, key.Public(), caKey)
		if err != nil {
			return pki{}, err
		}
		if err := writeCert(l.cert, cert.Raw); err != nil {
			return pki{}, err
		}
		if err := writeKey(l.key, key); err != nil {
			return pki{}, err
		}
	}
	if err := writeCert(p.caCert, caCert.Raw); err != nil {
		return pki{}, err
	}
	if err := writeKey(p.caKey, caKey); err != nil {
		return pki{}, err
	}

	saKey, err := newKey()
	if err != nil {
		return pki{}, err
	}
	if err := writeKey(p.saKey, saKey); err != nil {
		return pki{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return pki{}, err
	}
	if err := writePEM(p.saPub, "PUBLIC KEY", pub); err != nil {
		return pki{}, err
	}

	// token,user,uid[,"group,..."]
	tokens := fmt.Sprintf("%s,%s,%s,system:masters\n%s,%s,%s\n",
		adminToken, adminUser, adminUser, limitedToken, limitedUser, limitedUser)
	if err := os.WriteFile(p.tokens, []byte(tokens), 0o600); err != nil {
		return pki{}, err
	}
	return p, nil
}

// newKey makes an ECDSA P-256 key: much quicker to generate than RSA, and
// the API server takes it for every use here.
func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// sign issues tmpl, signed by parent's key, and returns it parsed.
func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func writeCert(path string, der []byte) error {
	return writePEM(path, "CERTIFICATE", der)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// newToken returns a random bearer token.
func newToken() string {
	b := make([]byte, 24)
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
