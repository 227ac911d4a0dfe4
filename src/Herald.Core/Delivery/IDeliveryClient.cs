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
    IReadOnlyList<string> Recipients)
{
    /// <summary>One envelope sender per recipient (a bounce address that names it), in the order of
    /// <see cref="Recipients"/>: one transaction per recipient, on the same connection. Null: one
    /// transaction with <see cref="EnvelopeSender"/> for all.</summary>
    public IReadOnlyList<string>? RecipientSenders { get; init; }
}
