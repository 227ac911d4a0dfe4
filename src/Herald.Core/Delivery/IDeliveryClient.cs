using MimeKit;

namespace Herald.Delivery;

/// <summary>Sends one message through one SMTP connection; outcomes are values, never exceptions.</summary>
public interface IDeliveryClient
{
    Task<DeliveryResult> SendAsync(DeliveryRequest request, CancellationToken cancellationToken);
}

public sealed record DeliveryRequest(
    OpenedConnection Connection,
    MimeMessage Message,
    string EnvelopeSender,
    IReadOnlyList<string> Recipients);
