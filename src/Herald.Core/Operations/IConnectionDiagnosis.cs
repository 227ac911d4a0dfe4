using Herald.Delivery;

namespace Herald.Operations;

/// <summary>Examines one SMTP connection step by step without sending mail (name resolution,
/// TCP, TLS and the server's certificate, EHLO, authentication), each step within
/// <paramref name="timeout"/>. Implemented where the SMTP client lives.</summary>
public interface IConnectionDiagnosis
{
    Task<IReadOnlyList<NodeCheck>> DiagnoseAsync(OpenedConnection connection, TimeSpan timeout, CancellationToken cancellationToken);
}
