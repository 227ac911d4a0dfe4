using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Runtime.InteropServices;
using MailKit.Security;

namespace Herald.Delivery;

/// <summary>
/// SASL GSSAPI (RFC 4752) over .NET's NegotiateAuthentication (the system's libgssapi_krb5 on
/// Linux), with two differences from MailKit's SaslMechanismGssapi: the initiator's tickets come
/// from the connection's own credential cache (where kinit and kvno put them), named for the
/// calling thread only (MIT's <c>gss_krb5_ccache_name</c>) around each call that may acquire them,
/// so connections of several service accounts authenticate at once in one process without
/// KRB5CCNAME; and the final
/// security-layer message carries the client principal as the authorization identity, which
/// Dovecot and Cyrus SASL require and Exchange accepts.
/// </summary>
internal sealed partial class GssapiMechanism(string credentialCache, string clientPrincipal, string servicePrincipal) : SaslMechanism(new NetworkCredential()), IDisposable
{
    private NegotiateAuthentication? _negotiate;
    private bool _contextComplete;

    public override string MechanismName => "GSSAPI";

    public override bool SupportsInitialResponse => true;

    /// <summary>Why the security context could not be established (the KDC gave no ticket for the
    /// service principal, most often); null when it was.</summary>
    public NegotiateAuthenticationStatusCode? ContextFailure { get; private set; }

    protected override byte[]? Challenge(byte[]? token, int startIndex, int length, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var input = token is null ? ReadOnlySpan<byte>.Empty : token.AsSpan(startIndex, length);
        if (_contextComplete)
        {
            return SecurityLayerResponse(input);
        }

        byte[]? output;
        NegotiateAuthenticationStatusCode status;
        _ = gss_krb5_ccache_name(out _, credentialCache, IntPtr.Zero);
        try
        {
            _negotiate ??= new NegotiateAuthentication(new NegotiateAuthenticationClientOptions
            {
                Package = "Kerberos",
                TargetName = servicePrincipal,
                Credential = CredentialCache.DefaultNetworkCredentials,
                RequiredProtectionLevel = ProtectionLevel.None,
            });
            output = _negotiate.GetOutgoingBlob(input, out status);
        }
        finally
        {
            // The thread goes back to the pool with the process's default cache.
            _ = gss_krb5_ccache_name(out _, null, IntPtr.Zero);
        }

        switch (status)
        {
            case NegotiateAuthenticationStatusCode.Completed:
                _contextComplete = true;
                break;
            case NegotiateAuthenticationStatusCode.ContinueNeeded:
                break;
            default:
                ContextFailure = status;
                throw new SaslException(MechanismName, SaslErrorCode.InvalidChallenge, $"GSSAPI could not establish a security context with {servicePrincipal}: {status}.");
        }

        return output ?? [];
    }

    /// <summary>RFC 4752 3.1: no security layer, no size limit, and the client principal as authorization identity.</summary>
    private byte[] SecurityLayerResponse(ReadOnlySpan<byte> challenge)
    {
        var input = challenge.ToArray();
        if (_negotiate!.UnwrapInPlace(input, out var offset, out var unwrappedLength, out _) != NegotiateAuthenticationStatusCode.Completed
            || unwrappedLength != 4 || (input[offset] & 0x01) == 0)
        {
            throw new SaslException(MechanismName, SaslErrorCode.InvalidChallenge, "The server offers no GSSAPI session without a security layer.");
        }

        var identity = System.Text.Encoding.UTF8.GetBytes(clientPrincipal);
        var message = new byte[4 + identity.Length];
        message[0] = 0x01;
        identity.CopyTo(message, 4);
        var writer = new ArrayBufferWriter<byte>();
        if (_negotiate.Wrap(message, writer, requestEncryption: false, out _) != NegotiateAuthenticationStatusCode.Completed)
        {
            throw new SaslException(MechanismName, SaslErrorCode.InvalidChallenge, "GSSAPI could not wrap the security-layer answer.");
        }

        IsAuthenticated = true;
        return writer.WrittenSpan.ToArray();
    }

    public override void Reset()
    {
        _negotiate?.Dispose();
        _negotiate = null;
        _contextComplete = false;
        ContextFailure = null;
        base.Reset();
    }

    public void Dispose() => _negotiate?.Dispose();

    /// <summary>MIT krb5: the default credential cache of the calling thread (null: the process's again).</summary>
    [LibraryImport("libgssapi_krb5.so.2", StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint gss_krb5_ccache_name(out uint minorStatus, string? name, IntPtr outName);
}
