using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace Herald.Web.Console;

/// <summary>
/// How the console's key elements are protected, said to Data Protection so that it does not
/// warn on every first start that a key "may be persisted to storage in unencrypted form": in the
/// database, <see cref="ConsoleKeyRing"/> seals each element whole with the credential key; in a
/// node's data directory (a node without a credential key has nothing to seal them with) they are
/// files in a directory only the node's user may open, as the credential key file itself would be,
/// and serve says so in its own words. The element is Data Protection's own
/// <c>unencryptedKey</c>, which its <see cref="NullXmlDecryptor"/> reads, so nothing of this
/// class is needed to read a key ring back.
/// </summary>
internal sealed class ConsoleKeyElements : IXmlEncryptor
{
    public EncryptedXmlInfo Encrypt(XElement plaintextElement) =>
        new(new XElement("unencryptedKey", new XComment(" Protected by where it is kept (see serve's log), not by Data Protection. "), plaintextElement), typeof(NullXmlDecryptor));
}
