using Orchestrator.Model;

namespace Orchestrator.Validation;

/// <summary>Validation of a Endpoints.</summary>
public static partial class Validator
{
    public static void Endpoints(Endpoints ep, Endpoints? old, FieldErrors e)
    {
        if (ep.Subsets is null)
        {
            return;
        }
        for (var i = 0; i < ep.Subsets.Count; i++)
        {
            var s = ep.Subsets[i];
            foreach (var (list, name) in new[] { (s.Addresses, "addresses"), (s.NotReadyAddresses, "notReadyAddresses") })
            {
                for (var j = 0; j < (list?.Count ?? 0); j++)
                {
                    if (!IsIPv4(list![j].Ip))
                    {
                        e.Invalid($"subsets[{i}].{name}[{j}].ip", list[j].Ip, "must be a valid IP address");
                    }
                }
            }
            for (var j = 0; j < (s.Ports?.Count ?? 0); j++)
            {
                if (!Names.IsValidPortNumber(s.Ports![j].Port))
                {
                    e.Invalid($"subsets[{i}].ports[{j}].port", s.Ports[j].Port, "must be between 1 and 65535, inclusive");
                }
            }
        }
    }
}
