using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Herald.Scopes;

namespace Herald.Notifications;

/// <summary>
/// The RFC 2919 <c>List-Id</c> of a scope's notifications, so that a mail client or a filter can
/// sort them by scope: <c>"Herald notifications for /hr/payroll" &lt;payroll.hr.notifications.example.org&gt;</c>
/// (the scope's segments most specific first, like DNS, under the From address's domain).
/// </summary>
public static class NotificationListId
{
    private const int MaxLabel = 63;
    private const int MaxId = 255;
    private static readonly IdnMapping Idn = new();

    public static string For(ScopePath scope, string fromDomain)
    {
        ArgumentNullException.ThrowIfNull(fromDomain);
        var domain = Ascii.IsValid(fromDomain) ? fromDomain.ToLowerInvariant() : Idn.GetAscii(fromDomain);
        var segments = scope.IsRoot ? ["root"] : scope.Value[1..].Split('/');
        var labels = segments.Reverse().Select(Label).ToList();
        // A segment with '.', '_' or letters beyond ASCII is written differently in a label: a
        // hash of the scope keeps /hr.x and /hr-x (or /hr_x) different lists.
        if (!labels.SequenceEqual(segments.Reverse(), StringComparer.Ordinal))
        {
            labels.Insert(0, "s" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(scope.Value)))[..10]);
        }

        var id = $"{string.Join('.', labels)}.notifications.{domain}";
        if (id.Length > MaxId)
        {
            id = $"{labels[0]}.notifications.{domain}";
        }

        var description = $"Herald notifications for {scope.Value}";
        return Ascii.IsValid(description) ? $"{MimeKit.Utils.MimeUtils.Quote(description)} <{id}>" : $"<{id}>";
    }

    private static string Label(string segment)
    {
        var label = new string(segment.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray()).Trim('-');
        return label.Length == 0 ? "x" : label.Length > MaxLabel ? label[..MaxLabel].TrimEnd('-') : label;
    }
}
