using Orchestrator.Model;

namespace Orchestrator.Validation;

/// <summary>Validation of a Namespace.</summary>
public static partial class Validator
{
    public static void Namespace(Namespace ns, Namespace? old, FieldErrors e)
    {
        if (ns.Status?.Phase is { } phase && phase is not ("Active" or "Terminating"))
        {
            e.NotSupported("status.phase", phase, ["Active", "Terminating"]);
        }
    }
}
